// Unit tests for MessageComposer (engine/message_composer.h): a recipient's copy carries its
// merge values, its attempt's Message-ID and the Date of the time passed; merge values that cannot
// go into a message are refused with nothing written; the envelope Sender is the null
// reverse-path for a DSN, --sender over the message's own, and VERP-tagged for the recipient.
// It may not: depend on timing or storage.
#include <gtest/gtest.h>

#include <string>

#include "engine/message_composer.h"
#include "message/verp.h"

namespace ringmta::engine {
namespace {

constexpr UnixSeconds kNow = 1'700'000'000;  // Tue, 14 Nov 2023 22:13:20 +0000

LoadedMessage loaded(std::string sender, bool is_dsn = false, bool verp = false) {
  const std::string raw =
      "From: News <news@example.org>\r\nTo: {{name}} <{{email}}>\r\n"
      "Subject: Hi {{name}}\r\n\r\nHello {{name}}\r\n";
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

TEST(MessageComposer, ACopyCarriesItsValuesItsAttemptsMessageIdAndTheDate) {
  MessageComposer composer("mta.example.org", "");
  const LoadedMessage message = loaded("bounces@example.org");
  std::string out = "kept|";
  ASSERT_TRUE(composer.compose(out, entry_for("Ann"), message, kNow).ok());
  EXPECT_TRUE(out.starts_with("kept|")) << "appends";
  EXPECT_NE(out.find("Message-ID: <2a.2.1699999940@mta.example.org>\r\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Subject: Hi Ann\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("To: Ann <ann@example.net>\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\n\r\nHello Ann\r\n"), std::string::npos) << out;

  std::string later;
  ASSERT_TRUE(composer.compose(later, entry_for("Ann"), message, kNow + 1).ok());
  EXPECT_NE(later.find("Date: Tue, 14 Nov 2023 22:13:21 +0000\r\n"), std::string::npos) << later;
}

TEST(MessageComposer, RefusesAHeaderBreakingValueAndWritesNothing) {
  MessageComposer composer("mta.example.org", "");
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
  EXPECT_EQ(MessageComposer("d", "").envelope_sender(entry, loaded("bounces@example.org")),
            "bounces@example.org");
  EXPECT_EQ(
      MessageComposer("d", "ops@example.org").envelope_sender(entry, loaded("bounces@example.org")),
      "ops@example.org");
  EXPECT_EQ(MessageComposer("d", "ops@example.org")
                .envelope_sender(entry, loaded("bounces@example.org", /*is_dsn=*/true)),
            "")
      << "a DSN goes out with the null reverse-path whatever --sender says";
  const std::string tagged =
      MessageComposer("d", "").envelope_sender(entry, loaded("bounces@example.org", false, true));
  auto tag = message::verp_decode(tagged);
  ASSERT_TRUE(tag.has_value()) << tagged;
  EXPECT_EQ(tag->recipient, "ann@example.net");
  EXPECT_EQ(tag->message_id, 7u);
}

}  // namespace
}  // namespace ringmta::engine
