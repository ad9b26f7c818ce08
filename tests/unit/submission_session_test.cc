// SubmissionSession fed bytes, no sockets: the policy (AUTH only over TLS, relay networks,
// senders, rates, recipient limits), the body readers and the commit hand-shake.
#include <gtest/gtest.h>

#include <string>

#include "submission/session.h"

namespace ringmta::submission {
namespace {

// "s3cret-pass", from `openssl passwd -6 -salt testsalt s3cret-pass`.
constexpr const char* kHash =
    "$6$testsalt$vAX27x9WPO14/FAlaesL5z4gqWoXtfBNmh1dIkHCCwpc2QRrZGr0VJcrUH3/D4xnjgSqR5L2fK0IUhx/"
    "R0Nnz1";
constexpr Millis kNow = 1'796'000'000'000;  // 2026-11

// "AHVzZXIAcGFzcw==" style PLAIN responses.
std::string plain(const std::string& user, const std::string& pass);

struct Harness {
  explicit Harness(bool tls = true, bool relay = false, std::string options = "") {
    auto parsed = UserDirectory::parse(std::string("news:") + kHash + options + "\n", "users");
    EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().message);
    users = std::move(parsed.value());
    session = std::make_unique<SubmissionSession>(SessionConfig{.hostname = "mx.example.org",
                                                                .max_message_size = 1000,
                                                                .max_recipients = 3,
                                                                .starttls_offered = true,
                                                                .implicit_tls = tls,
                                                                .relay_client = relay,
                                                                .client_address = "192.0.2.7",
                                                                .session_id = "s1",
                                                                .users = &users,
                                                                .rates = &rates});
    take();
  }
  // Feeds everything (all of it must be consumed) and returns the replies.
  std::string say(std::string_view text) {
    const std::size_t used = session->feed(text, kNow);
    EXPECT_EQ(used, text.size()) << "not consumed: " << text.substr(used);
    return take();
  }
  std::string take() {
    std::string out(session->output());
    session->clear_output();
    return out;
  }
  void login() {
    ASSERT_EQ(say("EHLO client.example\r\n").find("AUTH PLAIN LOGIN") != std::string::npos, true);
    ASSERT_EQ(say("AUTH PLAIN " + plain("news", "s3cret-pass") + "\r\n"),
              "235 2.7.0 Authentication successful\r\n");
  }
  UserDirectory users;
  UserRates rates;
  std::unique_ptr<SubmissionSession> session;
};

std::string plain(const std::string& user, const std::string& pass) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string raw = std::string(1, '\0') + user + std::string(1, '\0') + pass;
  std::string out;
  for (std::size_t i = 0; i < raw.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(raw[i]) << 16;
    if (i + 1 < raw.size()) n |= static_cast<uint8_t>(raw[i + 1]) << 8;
    if (i + 2 < raw.size()) n |= static_cast<uint8_t>(raw[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < raw.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < raw.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

TEST(SubmissionSession, GreetsAndOffersAuthOnlyOverTls) {
  Harness clear(/*tls=*/false);
  const std::string ehlo = clear.say("EHLO c.example\r\n");
  EXPECT_NE(ehlo.find("250-STARTTLS"), std::string::npos);
  EXPECT_EQ(ehlo.find("AUTH"), std::string::npos);
  for (const char* ext :
       {"PIPELINING", "SIZE 1000", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING", "SMTPUTF8"}) {
    EXPECT_NE(ehlo.find(ext), std::string::npos) << ext;
  }
  EXPECT_EQ(clear.say("AUTH PLAIN " + plain("news", "s3cret-pass") + "\r\n").substr(0, 10),
            "538 5.7.11");
  EXPECT_EQ(clear.say("MAIL FROM:<news@example.org>\r\n"), "530 5.7.0 Authentication required\r\n");
  EXPECT_EQ(clear.say("STARTTLS\r\n"), "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_TRUE(clear.session->starttls_requested());
  // Input after STARTTLS waits for the TLS layer (the driver drops it).
  EXPECT_EQ(clear.session->feed("MAIL FROM:<a@b.c>\r\n", kNow), 0u);
  clear.session->tls_started();
  EXPECT_EQ(clear.say("MAIL FROM:<news@example.org>\r\n").substr(0, 3), "503");  // EHLO again
  const std::string again = clear.say("EHLO c.example\r\n");
  EXPECT_EQ(again.find("STARTTLS"), std::string::npos);
  EXPECT_NE(again.find("250-AUTH PLAIN LOGIN"), std::string::npos);
}

TEST(SubmissionSession, WithoutAuthOnlyRelayNetworksMaySubmit) {
  Harness outsider(/*tls=*/true, /*relay=*/false);
  outsider.say("EHLO c.example\r\n");
  EXPECT_EQ(outsider.say("MAIL FROM:<a@example.org>\r\n"), "530 5.7.0 Authentication required\r\n");
  ASSERT_EQ(outsider.session->notes().size(), 1u);
  EXPECT_EQ(outsider.session->notes()[0].kind, "auth_required");
  EXPECT_EQ(outsider.say("RCPT TO:<x@example.com>\r\n").substr(0, 3), "503");

  Harness inside(/*tls=*/false, /*relay=*/true);
  inside.say("EHLO c.example\r\n");
  EXPECT_EQ(inside.say("MAIL FROM:<anyone@example.org>\r\n"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(inside.say("RCPT TO:<x@Example.COM>\r\n"), "250 2.1.5 Ok\r\n");
  inside.say("DATA\r\n");
  inside.say("From: a@example.org\r\nSubject: s\r\n\r\nhi\r\n.\r\n");
  ASSERT_TRUE(inside.session->has_message());
  const SubmittedMessage m = inside.session->take_message();
  EXPECT_EQ(m.user, "");
  EXPECT_EQ(m.campaign, "smtp");
  ASSERT_EQ(m.recipients.size(), 1u);
  EXPECT_EQ(m.recipients[0], "x@example.com");  // the domain as the queue keys it
}

TEST(SubmissionSession, AuthPlainLoginAndFailures) {
  Harness h;
  h.say("EHLO c.example\r\n");
  EXPECT_EQ(h.say("AUTH PLAIN\r\n"), "334 \r\n");
  EXPECT_EQ(h.say(plain("news", "wrong") + "\r\n"),
            "535 5.7.8 Authentication credentials invalid\r\n");
  EXPECT_EQ(h.say("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(h.say("bmV3cw==\r\n"), "334 UGFzc3dvcmQ6\r\n");  // "news"
  EXPECT_EQ(h.say("czNjcmV0LXBhc3M=\r\n"), "235 2.7.0 Authentication successful\r\n");
  EXPECT_EQ(h.session->user(), "news");
  EXPECT_EQ(h.say("AUTH PLAIN " + plain("news", "s3cret-pass") + "\r\n").substr(0, 3), "503");

  Harness attacker;
  attacker.say("EHLO c.example\r\n");
  attacker.say("AUTH PLAIN " + plain("news", "a") + "\r\n");
  attacker.say("AUTH PLAIN " + plain("nobody", "b") + "\r\n");
  EXPECT_EQ(attacker.say("AUTH PLAIN " + plain("news", "c") + "\r\n"),
            "421 4.7.0 Too many failed authentications, closing\r\n");
  EXPECT_TRUE(attacker.session->closed());
  EXPECT_EQ(attacker.session->notes().size(), 3u);
  EXPECT_EQ(attacker.session->notes()[1].detail, "nobody");
  Harness aborted;
  aborted.say("EHLO c.example\r\n");
  aborted.say("AUTH LOGIN\r\n");
  EXPECT_EQ(aborted.say("*\r\n"), "501 5.7.0 Authentication aborted\r\n");
}

TEST(SubmissionSession, SendersRatesAndRecipientLimits) {
  Harness h(true, false,
            ":senders=news@example.org,@lists.example.org rate=2/hour max_recipients=2");
  h.login();
  EXPECT_EQ(h.say("MAIL FROM:<boss@example.org>\r\n"),
            "553 5.7.1 <boss@example.org>: Sender address rejected: not owned by user news\r\n");
  EXPECT_EQ(h.say("MAIL FROM:<news@EXAMPLE.org>\r\n"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(
      h.say("RCPT TO:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\n"),
      "250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n452 4.5.3 Too many recipients (at most 2 per "
      "message)\r\n");
  EXPECT_EQ(h.say("RSET\r\nMAIL FROM:<x@lists.example.org>\r\nRSET\r\n"),
            "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n");
  // Two per hour, and both taken.
  EXPECT_EQ(h.say("MAIL FROM:<news@example.org>\r\n").substr(0, 10), "450 4.7.1 ");
}

TEST(SubmissionSession, RecipientsAreCheckedAsTheQueueHoldsThem) {
  Harness h;
  h.login();
  h.say("MAIL FROM:<news@example.org>\r\n");
  // A non-ASCII address needs SMTPUTF8 on MAIL FROM (RFC 6531 §3.4); with it, it is taken.
  EXPECT_EQ(h.say("RCPT TO:<j\xc3\xbcrgen@example.de>\r\n").substr(0, 10), "553 5.6.7 ");
  EXPECT_EQ(h.say("RCPT TO:<a@[192.0.2.1]>\r\n").substr(0, 10), "553 5.1.2 ");
  EXPECT_EQ(h.say("RCPT TO:<postmaster>\r\n").substr(0, 10), "553 5.1.3 ");
  EXPECT_EQ(h.say("RCPT TO:<a@example.com> NOTIFY=NEVER\r\n").substr(0, 3), "555");
  EXPECT_EQ(h.say("DATA\r\n").substr(0, 3), "554");  // no valid recipient
  h.say("RSET\r\n");
  EXPECT_EQ(h.say("MAIL FROM:<news@example.org> SMTPUTF8\r\n").substr(0, 3), "250");
  EXPECT_EQ(h.say("RCPT TO:<j\xc3\xbcrgen@b\xc3\xbc"
                  "cher.example>\r\n")
                .substr(0, 3),
            "250");
}

TEST(SubmissionSession, DataIsUnstuffedAndCommittedBeforeThe250) {
  Harness h;
  h.login();
  // Pipelined, then the body in one-byte pieces: the end is found across every split.
  EXPECT_EQ(h.say("MAIL FROM:<news@example.org>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n"),
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
  const std::string body =
      "From: news@example.org\r\nSubject: s\r\n\r\n..dot\r\nline\r\n.\r\nQUIT\r\n";
  std::string pending;
  for (char c : body) {
    pending.push_back(c);
    pending.erase(0, h.session->feed(pending, kNow));
  }
  // Everything up to the end of the message is consumed; QUIT waits for the commit.
  EXPECT_EQ(pending, "QUIT\r\n");
  EXPECT_EQ(h.take(), "");
  ASSERT_TRUE(h.session->has_message());
  SubmittedMessage m = h.session->take_message();
  EXPECT_EQ(m.sender, "news@example.org");
  EXPECT_EQ(m.campaign, "smtp-news");
  EXPECT_EQ(m.message.rfind("Received: from client.example ([192.0.2.7])\r\n\tby mx.example.org "
                            "(ringmta) with ESMTPSA id s1.1;\r\n",
                            0),
            0u);
  // Date and Message-ID are added when missing; the body is unstuffed.
  EXPECT_NE(m.message.find("\r\nDate: "), std::string::npos);
  EXPECT_NE(m.message.find("\r\nMessage-ID: <s1.1@mx.example.org>\r\n"), std::string::npos);
  EXPECT_NE(m.message.find("\r\n\r\n.dot\r\nline\r\n"), std::string::npos);
  EXPECT_EQ(m.message.substr(m.message.size() - 6), "line\r\n");
  EXPECT_EQ(h.session->feed(pending, kNow), 0u);  // nothing more until the commit
  h.session->committed("2a");
  EXPECT_EQ(h.take(), "250 2.0.0 Ok: queued as 2a\r\n");
  EXPECT_EQ(h.say(pending), "221 2.0.0 Bye\r\n");
  EXPECT_TRUE(h.session->closed());
}

TEST(SubmissionSession, AFailedCommitIsA451AndTheSessionGoesOn) {
  Harness h;
  h.login();
  h.say("MAIL FROM:<news@example.org>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n");
  h.say(
      "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <own@x>\r\nFrom: "
      "n@example.org\r\n\r\nb\r\n.\r\n");
  const SubmittedMessage m = h.session->take_message();
  EXPECT_NE(m.message.find("Message-ID: <own@x>"), std::string::npos);
  EXPECT_EQ(m.message.find("Message-ID: <s1"), std::string::npos);  // its own are kept
  h.session->commit_failed("queue write failed (No space left on device)");
  EXPECT_EQ(h.take(),
            "451 4.3.0 Message not queued, try again later: queue write failed (No space left on "
            "device)\r\n");
  EXPECT_EQ(h.say("NOOP\r\n"), "250 2.0.0 Ok\r\n");
}

TEST(SubmissionSession, OversizedAndMalformedMessagesAreRefused) {
  Harness h;
  h.login();
  h.say("MAIL FROM:<news@example.org> SIZE=5000\r\n");  // 552 at MAIL: SIZE is 1000
  h.say("MAIL FROM:<news@example.org>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n");
  EXPECT_EQ(h.say("Subject: x\r\n\r\n" + std::string(990, 'a') + "\r\n" + std::string(990, 'b') +
                  "\r\n.\r\n"),
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  EXPECT_FALSE(h.session->has_message());
  h.say("MAIL FROM:<news@example.org>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n");
  EXPECT_EQ(h.say("no header here\r\n\r\nbody\r\n.\r\n").substr(0, 10), "554 5.6.0 ");
  EXPECT_EQ(h.say("NOOP " + std::string(1200, 'x') + "\r\n"), "500 5.5.6 Line too long\r\n");
}

TEST(SubmissionSession, BdatChunks) {
  Harness h;
  h.login();
  h.say("MAIL FROM:<news@example.org>\r\nRCPT TO:<a@example.com>\r\n");
  const std::string first = "From: n@example.org\r\n\r\n";
  const std::string second = ".not stuffed\r\n";
  EXPECT_EQ(h.say("BDAT " + std::to_string(first.size()) + "\r\n" + first),
            "250 2.0.0 Ok: " + std::to_string(first.size()) + " octets received\r\n");
  h.say("BDAT " + std::to_string(second.size()) + " LAST\r\n" + second);
  ASSERT_TRUE(h.session->has_message());
  const SubmittedMessage m = h.session->take_message();
  EXPECT_EQ(m.message.substr(m.message.size() - second.size()), second);  // BDAT is not stuffed
  h.session->committed("1");
  EXPECT_EQ(h.take(), "250 2.0.0 Ok: queued as 1\r\n");
  EXPECT_EQ(h.say("BDAT 3 LAST\r\nabc").substr(0, 3), "503");  // no transaction: read, refused
}

TEST(SubmissionSession, SuppressedRecipientsAreRefusedAtRcpt) {
  struct Listed final : SuppressionCheck {
    std::optional<bool> suppressed(std::string_view address) override {
      if (address == "broken@example.com") return std::nullopt;
      return address == "gone@example.com";
    }
  } listed;
  UserDirectory none;
  UserRates rates;
  SubmissionSession s(SessionConfig{.relay_client = true,
                                    .client_address = "192.0.2.7",
                                    .session_id = "s",
                                    .users = &none,
                                    .rates = &rates,
                                    .suppressions = &listed});
  s.feed(
      "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<gone@Example.COM>\r\n"
      "RCPT TO:<broken@example.com>\r\nRCPT TO:<fine@example.com>\r\n",
      kNow);
  const std::string out(s.output());
  EXPECT_NE(out.find("550 5.7.1 <gone@Example.COM>: on the suppression list"), std::string::npos)
      << out;
  EXPECT_NE(out.find("451 4.3.0 <broken@example.com>"), std::string::npos) << out;
  EXPECT_EQ(out.substr(out.size() - 14), "250 2.1.5 Ok\r\n");
}

TEST(SubmissionSession, TooManyErrorsCloseTheSession) {
  Harness h;
  std::string replies;
  for (int i = 0; i < SubmissionSession::kMaxErrors; ++i) replies = h.say("BOGUS\r\n");
  EXPECT_EQ(replies, "421 4.7.0 Too many errors on this connection, closing\r\n");
  EXPECT_TRUE(h.session->closed());
}

TEST(UserRates, ABucketPerUser) {
  auto users = UserDirectory::parse(
      std::string("a:") + kHash + ":rate=1/hour\nb:" + kHash + ":rate=1/hour\n", "u");
  ASSERT_TRUE(users);
  UserRates rates;
  EXPECT_TRUE(rates.try_take(*users->find("a"), kNow));
  EXPECT_FALSE(rates.try_take(*users->find("a"), kNow + 1000));
  EXPECT_TRUE(rates.try_take(*users->find("b"), kNow + 1000));
  EXPECT_TRUE(rates.try_take(*users->find("a"), kNow + 3'600'000));
}

}  // namespace
}  // namespace ringmta::submission
