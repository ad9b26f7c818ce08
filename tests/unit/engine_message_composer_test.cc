// Unit tests for MessageComposer (engine/message_composer.h): a recipient's copy carries its
// merge values, its own Message-ID (one for all copies of a message the same for everyone) and the
// Date of the time passed; merge values that cannot go into a message are refused with nothing
// written; the envelope Sender is the null reverse-path for a DSN, --sender over the message's own,
// and VERP-tagged for the recipient. It may not: depend on timing or storage.
#include <gtest/gtest.h>

#include <string>

#include "engine/message_composer.h"
#include "message/verp.h"

namespace ringmta::engine {
namespace {

constexpr UnixSeconds kNow = 1'700'000'000;      // Tue, 14 Nov 2023 22:13:20 +0000
constexpr uint64_t kQueue = 0x00c0ffee12345678;  // the queue's identity

constexpr const char* kPersonal =
    "From: News <news@example.org>\r\nTo: {{name}} <{{email}}>\r\n"
    "Subject: Hi {{name}}\r\n\r\nHello {{name}}\r\n";

LoadedMessage loaded(std::string sender, bool is_dsn = false, bool verp = false,
                     std::string raw = kPersonal) {
  auto tpl = message::MessageTemplate::parse(raw);
  EXPECT_TRUE(tpl.ok());
  return LoadedMessage{.stored = {.envelope_sender = std::move(sender),
                                  .raw = raw,
                                  .fields = {"name", "email"},
                                  .campaign = "spring",
                                  .is_dsn = is_dsn,
                                  .verp = verp},
                       .tpl = std::move(tpl).value()};
}

storage::QueueEntry entry_for(std::string name) {
  storage::QueueEntry entry;
  entry.key.seq = 0x2a;
  entry.record.address = "ann@example.net";
  entry.record.message = 7;
  entry.record.values = {std::move(name), "ann@example.net"};
  entry.record.attempts = 2;
  entry.record.first_enqueued = kNow - 60;
  return entry;
}

TEST(MessageComposer, ACopyForAServerWithout8BitMimeIsMadeQuotedPrintableOnlyWhenItIs8Bit) {
  MessageComposer composer("mta.example.org", kQueue, "");
  const LoadedMessage message = loaded("bounces@example.org");
  std::string eight_bit;
  ASSERT_TRUE(composer.compose(eight_bit, entry_for("J\xC3\xBCrgen"), message, kNow).ok());
  EXPECT_NE(eight_bit.find("\r\n\r\nHello J\xC3\xBCrgen\r\n"), std::string::npos) << eight_bit;
  // The template declares no Content-Type: an 8-bit copy says what it is (RFC 2045 §5.2).
  EXPECT_NE(eight_bit.find("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: 8bit\r\n"),
            std::string::npos)
      << eight_bit;
  std::string seven_bit = "kept|";
  ASSERT_TRUE(
      composer.compose(seven_bit, entry_for("J\xC3\xBCrgen"), message, kNow, /*seven_bit=*/true)
          .ok());
  EXPECT_TRUE(seven_bit.starts_with("kept|"));
  EXPECT_NE(seven_bit.find("Content-Type: text/plain; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: quoted-printable\r\n"),
            std::string::npos)
      << seven_bit;
  EXPECT_NE(seven_bit.find("\r\n\r\nHello J=C3=BCrgen\r\n"), std::string::npos) << seven_bit;
  std::string ascii, ascii_seven;
  ASSERT_TRUE(composer.compose(ascii, entry_for("Ann"), message, kNow).ok());
  ASSERT_TRUE(composer.compose(ascii_seven, entry_for("Ann"), message, kNow, true).ok());
  EXPECT_EQ(ascii, ascii_seven) << "an ASCII copy is sent as it is";
  EXPECT_EQ(ascii.find("Content-Type:"), std::string::npos) << "and declares nothing new";
}

TEST(MessageComposer, ACopyCarriesItsValuesItsMessageIdAndTheDate) {
  MessageComposer composer("mta.example.org", kQueue, "");
  const LoadedMessage message = loaded("bounces@example.org");
  std::string out = "kept|";
  ASSERT_TRUE(composer.compose(out, entry_for("Ann"), message, kNow).ok());
  EXPECT_TRUE(out.starts_with("kept|")) << "appends";
  EXPECT_NE(out.find("Message-ID: <2a.7.00c0ffee12345678@mta.example.org>\r\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Subject: Hi Ann\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("To: Ann <ann@example.net>\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\n\r\nHello Ann\r\n"), std::string::npos) << out;

  std::string later;
  ASSERT_TRUE(composer.compose(later, entry_for("Ann"), message, kNow + 1).ok());
  EXPECT_NE(later.find("Date: Tue, 14 Nov 2023 22:13:21 +0000\r\n"), std::string::npos) << later;
}

TEST(MessageComposer, APersonalCopyHasItsOwnMessageIdAMessageTheSameForAllHasOne) {
  MessageComposer composer("mta.example.org", kQueue, "");
  const LoadedMessage personal = loaded("b@example.org");
  storage::QueueEntry ann = entry_for("Ann"), bob = entry_for("Bob");
  bob.key.seq = 0x2b;
  auto message_id = [&](storage::QueueEntry e, const LoadedMessage& m) {
    if (m.tpl.fields().empty()) e.record.values.clear();
    std::string out;
    EXPECT_TRUE(composer.compose(out, e, m, kNow).ok());
    std::size_t at = out.find("Message-ID: ");
    return out.substr(at, out.find("\r\n", at) - at);
  };
  EXPECT_EQ(message_id(ann, personal), "Message-ID: <2a.7.00c0ffee12345678@mta.example.org>");
  EXPECT_EQ(message_id(bob, personal), "Message-ID: <2b.7.00c0ffee12345678@mta.example.org>");
  ann.record.attempts += 1;  // a retry is the same message
  EXPECT_EQ(message_id(ann, personal), "Message-ID: <2a.7.00c0ffee12345678@mta.example.org>");

  const LoadedMessage for_all = loaded("b@example.org", false, false,
                                       "From: news@example.org\r\nTo: readers@example.org\r\n"
                                       "Subject: Issue 5\r\n\r\nHello all\r\n");
  EXPECT_TRUE(same_for_every_recipient(for_all));
  EXPECT_FALSE(same_for_every_recipient(personal));
  EXPECT_EQ(message_id(ann, for_all), "Message-ID: <0.7.00c0ffee12345678@mta.example.org>");
  EXPECT_EQ(message_id(bob, for_all), "Message-ID: <0.7.00c0ffee12345678@mta.example.org>");
  // Another queue (here or on another host): other Message-IDs for the same seq and message.
  std::string other;
  ann.record.values.clear();
  ASSERT_TRUE(
      MessageComposer("mta.example.org", kQueue + 1, "").compose(other, ann, for_all, kNow));
  EXPECT_NE(other.find("<0.7.00c0ffee12345679@mta.example.org>"), std::string::npos) << other;

  LoadedMessage with_links = for_all;  // a per-recipient unsubscribe link makes each copy its own
  with_links.stored.list.unsubscribe_url = "https://news.example.org/u/{token}";
  EXPECT_FALSE(same_for_every_recipient(with_links));
}

TEST(MessageComposer, RefusesAHeaderBreakingValueAndWritesNothing) {
  MessageComposer composer("mta.example.org", kQueue, "");
  std::string out;
  auto composed = composer.compose(out, entry_for("Ann\r\nBcc: all@example.net"),
                                   loaded("b@example.org"), kNow);
  ASSERT_FALSE(composed.ok());
  EXPECT_NE(composed.error().message.find("line break in a header value"), std::string::npos)
      << composed.error().message;
  EXPECT_TRUE(out.empty());
}

TEST(MessageComposer, EnvelopeSender) {
  const storage::QueueEntry entry = entry_for("Ann");
  EXPECT_EQ(MessageComposer("d", kQueue, "").envelope_sender(entry, loaded("bounces@example.org")),
            "bounces@example.org");
  EXPECT_EQ(MessageComposer("d", kQueue, "ops@example.org")
                .envelope_sender(entry, loaded("bounces@example.org")),
            "ops@example.org");
  EXPECT_EQ(MessageComposer("d", kQueue, "ops@example.org")
                .envelope_sender(entry, loaded("bounces@example.org", /*is_dsn=*/true)),
            "")
      << "a DSN goes out with the null reverse-path whatever --sender says";
  const std::string tagged =
      MessageComposer("d", kQueue, "")
          .envelope_sender(entry, loaded("bounces@example.org", false, true));
  auto tag = message::verp_decode(tagged);
  ASSERT_TRUE(tag.has_value()) << tagged;
  EXPECT_EQ(tag->recipient, "ann@example.net");
  EXPECT_EQ(tag->message_id, 7u);
}

}  // namespace
}  // namespace ringmta::engine
