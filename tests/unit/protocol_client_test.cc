// Unit tests for protocol::SmtpClient: whole sessions driven by feeding server bytes and a fake
// clock, asserting the exact bytes of each write and the events. No sockets, no real time.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "protocol/smtp_client.h"

namespace ringmta::protocol {
namespace {

constexpr const char* kEhloPipelining =
    "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n"
    "250 ENHANCEDSTATUSCODES\r\n";
constexpr const char* kEhloPlain = "250-mx.example.com\r\n250 8BITMIME\r\n";

ClientConfig config(TlsMode tls = TlsMode::kNone) {
  ClientConfig c;
  c.ehlo_name = "client.example.com";
  c.tls = tls;
  return c;
}

ClientConfig with_credentials(TlsMode tls, AuthMechanism m = AuthMechanism::kAuto) {
  ClientConfig c = config(tls);
  c.credentials = Credentials{"tim", "tanstaaftanstaaf"};
  c.auth = m;
  return c;
}

Envelope envelope(uint64_t id, std::vector<std::string> rcpts,
                  std::string body = "Subject: t\r\n\r\nhello\r\n") {
  Envelope e;
  e.id = id;
  e.mail_from = "a@x.org";
  e.recipients = std::move(rcpts);
  e.body = std::move(body);
  return e;
}

class Session {
 public:
  explicit Session(ClientConfig c) : client(std::move(c)) {}

  void connect() {
    client.on_connected(now);
    drain();
  }
  // As the driver does, whatever the client wrote goes to the wire before the server's bytes are
  // read: a reply can only answer a command already sent. out() returns what went out since.
  void recv(std::string_view bytes) {
    write();
    client.on_received(bytes, now);
    drain();
  }
  std::string out() {
    write();
    return std::exchange(wire, {});
  }
  void write() {
    std::string bytes = client.take_output();
    written += bytes.size();
    wire += bytes;
    client.on_written(written);
  }
  void drain() {
    while (auto e = client.poll_event()) events.push_back(std::move(*e));
  }
  void submit(Envelope e) {
    client.submit(std::move(e), now);
    drain();
  }
  void quit() {
    client.quit(now);
    drain();
  }

  template <class T>
  std::vector<T> all() const {
    std::vector<T> out;
    for (const auto& e : events) {
      if (auto* t = std::get_if<T>(&e)) out.push_back(*t);
    }
    return out;
  }
  template <class T>
  int count() const {
    return static_cast<int>(all<T>().size());
  }
  TransactionDone done(uint64_t id) const {
    for (auto& d : all<TransactionDone>()) {
      if (d.id == id) return d;
    }
    ADD_FAILURE() << "no TransactionDone for " << id;
    return {};
  }
  // Greeting and EHLO up to SessionReady (plaintext, no AUTH).
  void ready(const char* ehlo_reply) {
    connect();
    recv("220 mx.example.com ESMTP\r\n");
    EXPECT_EQ(out(), "EHLO client.example.com\r\n");
    recv(ehlo_reply);
    EXPECT_EQ(count<SessionReady>(), 1);
  }

  SmtpClient client;
  Millis now = 1'000;
  std::vector<ClientEvent> events;
  std::string wire;  // written, not yet looked at by out()
  uint64_t written = 0;
};

std::vector<int> codes(const TransactionDone& d) {
  std::vector<int> out;
  for (const auto& r : d.recipient_replies) out.push_back(r.code);
  return out;
}

// ---------------------------------------------------------------- session setup

TEST(SmtpClient, GreetingEhloReadyAndDeadlines) {
  Session s(config());
  EXPECT_FALSE(s.client.deadline());
  s.connect();
  EXPECT_EQ(s.out(), "");
  EXPECT_EQ(s.client.deadline(), 1'000 + 300'000);
  EXPECT_FALSE(s.client.can_submit());
  s.recv("220 mx ESMTP\r\n");
  EXPECT_EQ(s.out(), "EHLO client.example.com\r\n");
  EXPECT_TRUE(s.client.observations().greeting_seen);
  s.recv(kEhloPipelining);
  EXPECT_EQ(s.count<SessionReady>(), 1);
  EXPECT_FALSE(s.client.deadline());
  EXPECT_TRUE(s.client.can_submit());
  EXPECT_TRUE(s.client.capabilities().pipelining);
  EXPECT_TRUE(s.client.observations().caps_before_tls.pipelining);
  EXPECT_FALSE(s.client.observations().tls_active);
}

TEST(SmtpClient, GreetingRefusedClosesWithoutCommands) {
  Session s(config());
  s.connect();
  s.recv("554 5.7.1 go away\r\n");
  ASSERT_EQ(s.count<SessionFailed>(), 1);
  EXPECT_EQ(s.all<SessionFailed>()[0].stage, Stage::kGreeting);
  EXPECT_EQ(s.all<SessionFailed>()[0].reply.code, 554);
  EXPECT_EQ(s.count<SessionClosed>(), 1);
  EXPECT_TRUE(s.client.closed());
  EXPECT_EQ(s.out(), "");
  EXPECT_FALSE(s.client.deadline());
}

TEST(SmtpClient, HeloFallbackWhenEhloRefused) {
  Session s(config());
  s.connect();
  s.recv("220 old\r\n");
  EXPECT_EQ(s.out(), "EHLO client.example.com\r\n");
  s.recv("502 5.5.2 command not recognized\r\n");
  EXPECT_EQ(s.out(), "HELO client.example.com\r\n");
  s.recv("250 hello\r\n");
  EXPECT_EQ(s.count<SessionReady>(), 1);
  EXPECT_TRUE(s.client.observations().ehlo_rejected);
  EXPECT_FALSE(s.client.capabilities().esmtp);
  EXPECT_FALSE(s.client.capabilities().pipelining);
  s.submit(envelope(1, {"b@y.org"}));
  EXPECT_EQ(s.out(), "MAIL FROM:<a@x.org>\r\n");  // no SIZE or BODY without ESMTP
}

TEST(SmtpClient, HeloRefusedFailsAtEhlo) {
  Session s(config());
  s.connect();
  s.recv("220 x\r\n");
  s.out();
  s.recv("550 5.7.1 bad\r\n");
  EXPECT_EQ(s.out(), "HELO client.example.com\r\n");
  s.recv("550 5.7.1 Helo command rejected: need fully-qualified hostname\r\n");
  ASSERT_EQ(s.count<SessionFailed>(), 1);
  EXPECT_EQ(s.all<SessionFailed>()[0].stage, Stage::kEhlo);
  ASSERT_TRUE(s.client.observations().helo_refusal);
  EXPECT_EQ(s.client.observations().helo_refusal->code, 550);
  EXPECT_EQ(s.count<SessionClosed>(), 1);
  EXPECT_EQ(s.out(), "QUIT\r\n");
}

TEST(SmtpClient, ConnectFailure) {
  Session s(config());
  s.submit(envelope(3, {"b@y.org"}));  // queued before the connection is up
  s.client.on_connection_lost("cannot connect to mx:25: refused", s.now);
  s.drain();
  ASSERT_EQ(s.count<SessionFailed>(), 1);
  EXPECT_EQ(s.all<SessionFailed>()[0].stage, Stage::kConnect);
  EXPECT_TRUE(s.all<SessionFailed>()[0].reply.local);
  EXPECT_TRUE(s.done(3).final_reply.transient());
  EXPECT_EQ(s.count<SessionClosed>(), 1);
}

// ---------------------------------------------------------------- STARTTLS

TEST(SmtpClient, StartTlsDiscardsInjectedBytesAndSaysEhloAgain) {
  Session s(config(TlsMode::kStartTls));
  s.connect();
  s.recv("220 mx\r\n");
  EXPECT_EQ(s.out(), "EHLO client.example.com\r\n");
  s.recv("250-mx\r\n250-STARTTLS\r\n250 PIPELINING\r\n");
  EXPECT_EQ(s.count<SessionReady>(), 0);
  EXPECT_FALSE(s.client.can_submit());
  EXPECT_EQ(s.out(), "STARTTLS\r\n");
  EXPECT_EQ(s.client.deadline(), s.now + 120'000);
  // The 220 arrives with injected commands' answers in the same packet.
  s.recv("220 2.0.0 Ready to start TLS\r\n250-evil\r\n250 AUTH PLAIN\r\n");
  EXPECT_EQ(s.count<TlsHandshakeNeeded>(), 1);
  EXPECT_EQ(s.count<SessionFailed>(), 0);
  EXPECT_EQ(s.out(), "");
  EXPECT_FALSE(s.client.deadline());  // the driver times the handshake
  s.recv("250 more plaintext during the handshake\r\n");
  s.client.on_tls_established(s.now);
  s.drain();
  EXPECT_TRUE(s.client.observations().tls_active);
  EXPECT_EQ(s.out(), "EHLO client.example.com\r\n");
  s.recv("250-mx\r\n250-PIPELINING\r\n250 SIZE 500\r\n");
  EXPECT_EQ(s.count<SessionReady>(), 1);
  const Observations& o = s.client.observations();
  EXPECT_TRUE(o.caps_before_tls.starttls);
  ASSERT_TRUE(o.caps_after_tls);
  EXPECT_EQ(o.caps_after_tls->size_limit, 500u);
  EXPECT_TRUE(o.caps_after_tls->auth_mechanisms.empty());  // the injected AUTH never counted
}

TEST(SmtpClient, StartTlsInjectedGarbageIsDiscardedNotFatal) {
  Session s(config(TlsMode::kStartTls));
  s.connect();
  s.recv("220 mx\r\n");
  s.recv("250-mx\r\n250 STARTTLS\r\n");
  s.out();
  s.recv("220 go\r\nthis is not SMTP\r\n");
  EXPECT_EQ(s.count<TlsHandshakeNeeded>(), 1);
  EXPECT_EQ(s.count<SessionFailed>(), 0);
  s.client.on_tls_established(s.now);
  EXPECT_EQ(s.out(), "EHLO client.example.com\r\n");
}

TEST(SmtpClient, StartTlsNotOfferedNeverSendsAuthOrMail) {
  Session s(with_credentials(TlsMode::kStartTls));
  s.connect();
  s.recv("220 mx\r\n");
  std::string wire = s.out();
  s.recv("250-mx\r\n250-AUTH PLAIN LOGIN\r\n250 PIPELINING\r\n");
  wire += s.out();
  s.submit(envelope(1, {"b@y.org"}));
  wire += s.out();
  ASSERT_EQ(s.count<SessionFailed>(), 1);
  const SessionFailed f = s.all<SessionFailed>()[0];
  EXPECT_EQ(f.stage, Stage::kStartTls);
  EXPECT_EQ(f.reply.code, 530);
  EXPECT_TRUE(f.reply.local);
  EXPECT_EQ(f.reply.summary(), "530 5.7.10 STARTTLS required but not offered by the server");
  EXPECT_EQ(s.count<SessionClosed>(), 1);
  EXPECT_EQ(wire, "EHLO client.example.com\r\nQUIT\r\n");
  EXPECT_TRUE(s.done(1).final_reply.transient());
}

TEST(SmtpClient, OpportunisticTlsUsesStartTlsWhenOffered) {
  Session s(config(TlsMode::kOpportunistic));
  s.connect();
  s.recv("220 mx\r\n");
  s.out();
  s.recv("250-mx\r\n250-STARTTLS\r\n250 PIPELINING\r\n");
  EXPECT_EQ(s.out(), "STARTTLS\r\n");
  s.recv("220 go ahead\r\n");
  EXPECT_EQ(s.count<TlsHandshakeNeeded>(), 1);
  s.client.on_tls_established(s.now);
  EXPECT_EQ(s.out(), "EHLO client.example.com\r\n");
  s.recv("250 mx\r\n");
  EXPECT_EQ(s.count<SessionReady>(), 1);
  EXPECT_TRUE(s.client.observations().tls_active);
  EXPECT_TRUE(s.client.observations().caps_after_tls.has_value());
}

TEST(SmtpClient, OpportunisticTlsGoesOnInClearWithoutStartTls) {
  Session s(config(TlsMode::kOpportunistic));
  s.connect();
  s.recv("220 mx\r\n");
  s.out();
  s.recv(kEhloPipelining);
  EXPECT_EQ(s.count<SessionReady>(), 1);
  EXPECT_FALSE(s.client.observations().tls_active);
  s.submit(envelope(1, {"b@y.org"}));
  EXPECT_EQ(s.out().rfind("MAIL FROM:<a@x.org>", 0), 0u);
}

TEST(SmtpClient, StartTls454Defers) {
  for (const char* refusal : {"454 4.7.0 TLS not available\r\n", "502 5.5.1 no\r\n"}) {
    Session s(with_credentials(TlsMode::kStartTls));
    s.connect();
    s.recv("220 mx\r\n");
    std::string wire = s.out();
    s.recv("250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n");
    wire += s.out();
    s.recv(refusal);
    wire += s.out();
    ASSERT_EQ(s.count<SessionFailed>(), 1);
    EXPECT_EQ(s.all<SessionFailed>()[0].stage, Stage::kStartTls);
    EXPECT_EQ(s.count<SessionReady>(), 0);
    EXPECT_EQ(wire, "EHLO client.example.com\r\nSTARTTLS\r\nQUIT\r\n");
  }
}

TEST(SmtpClient, TlsHandshakeFailure) {
  Session s(config(TlsMode::kStartTls));
  s.connect();
  s.recv("220 mx\r\n");
  s.recv("250-mx\r\n250 STARTTLS\r\n");
  s.recv("220 go\r\n");
  s.out();
  s.client.on_tls_failed("certificate verify failed", s.now);
  s.drain();
  ASSERT_EQ(s.count<SessionFailed>(), 1);
  EXPECT_EQ(s.all<SessionFailed>()[0].stage, Stage::kTlsHandshake);
  EXPECT_NE(s.all<SessionFailed>()[0].reply.text().find("certificate verify failed"),
            std::string::npos);
  EXPECT_EQ(s.count<SessionClosed>(), 1);
  EXPECT_EQ(s.out(), "");
}

TEST(SmtpClient, ImplicitTlsIsActiveFromTheStart) {
  Session s(with_credentials(TlsMode::kImplicit));
  s.connect();
  EXPECT_TRUE(s.client.observations().tls_active);
  s.recv("220 mx\r\n");
  s.out();
  s.recv("250-mx\r\n250 AUTH PLAIN\r\n");
  EXPECT_EQ(s.out(), "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
}

// ---------------------------------------------------------------- AUTH

TEST(SmtpClient, AuthPlainWithInitialResponse) {
  Session s(with_credentials(TlsMode::kNone));
  s.connect();
  s.recv("220 mx\r\n");
  s.out();
  s.recv("250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
  EXPECT_EQ(s.out(), "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
  EXPECT_EQ(s.count<SessionReady>(), 0);
  EXPECT_EQ(s.client.deadline(), s.now + 120'000);
  s.recv("235 2.7.0 Authentication successful\r\n");
  EXPECT_EQ(s.count<SessionReady>(), 1);
  EXPECT_TRUE(s.client.observations().authenticated);
  EXPECT_EQ(s.client.observations().auth_mechanism_used, AuthMechanism::kPlain);
}

TEST(SmtpClient, AuthLogin) {
  Session s(with_credentials(TlsMode::kNone, AuthMechanism::kLogin));
  s.connect();
  s.recv("220 mx\r\n");
  s.out();
  s.recv("250-mx\r\n250 AUTH=LOGIN PLAIN CRAM-MD5\r\n");
  EXPECT_EQ(s.out(), "AUTH LOGIN\r\n");
  s.recv("334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(s.out(), "dGlt\r\n");
  s.recv("334 UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(s.out(), "dGFuc3RhYWZ0YW5zdGFhZg==\r\n");
  s.recv("235 ok\r\n");
  EXPECT_EQ(s.count<SessionReady>(), 1);
  EXPECT_TRUE(s.client.observations().authenticated);
}

TEST(SmtpClient, AuthCramMd5Rfc2195) {
  Session s(with_credentials(TlsMode::kNone));  // auto prefers CRAM-MD5
  s.connect();
  s.recv("220 mx\r\n");
  s.out();
  s.recv("250-mx\r\n250 AUTH PLAIN LOGIN CRAM-MD5\r\n");
  EXPECT_EQ(s.out(), "AUTH CRAM-MD5\r\n");
  s.recv("334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n");
  EXPECT_EQ(s.out(), "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n");
  s.recv("235 2.7.0 ok\r\n");
  EXPECT_EQ(s.count<SessionReady>(), 1);
  EXPECT_EQ(s.client.observations().auth_mechanism_used, AuthMechanism::kCramMd5);
}

TEST(SmtpClient, AuthAutoFallsBackToLogin) {
  Session s(with_credentials(TlsMode::kNone));
  s.connect();
  s.recv("220 mx\r\n");
  s.out();
  s.recv("250-mx\r\n250 AUTH LOGIN XOAUTH2\r\n");
  EXPECT_EQ(s.out(), "AUTH LOGIN\r\n");
}

TEST(SmtpClient, Auth535FailsWithoutLeakingThePassword) {
  Session s(with_credentials(TlsMode::kNone, AuthMechanism::kLogin));
  s.connect();
  s.recv("220 mx\r\n");
  s.recv("250-mx\r\n250 AUTH LOGIN\r\n");
  s.recv("334 VXNlcm5hbWU6\r\n");
  s.recv("334 UGFzc3dvcmQ6\r\n");
  s.out();
  s.recv("535 5.7.8 Error: authentication failed\r\n");
  ASSERT_EQ(s.count<SessionFailed>(), 1);
  const SessionFailed f = s.all<SessionFailed>()[0];
  EXPECT_EQ(f.stage, Stage::kAuth);
  EXPECT_EQ(f.reply.code, 535);
  ASSERT_TRUE(s.client.observations().auth_refusal);
  EXPECT_EQ(s.client.observations().auth_refusal->code, 535);
  EXPECT_FALSE(s.client.observations().authenticated);
  EXPECT_EQ(s.count<SessionReady>(), 0);
  EXPECT_EQ(s.count<SessionClosed>(), 1);
  EXPECT_EQ(f.reply.text().find("tanstaaf"), std::string::npos);
}

TEST(SmtpClient, ExplicitMechanismNotOffered) {
  Session s(with_credentials(TlsMode::kNone, AuthMechanism::kCramMd5));
  s.connect();
  s.recv("220 mx\r\n");
  s.out();
  s.recv("250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
  EXPECT_EQ(s.out(), "QUIT\r\n");
  ASSERT_EQ(s.count<SessionFailed>(), 1);
  const Reply r = s.all<SessionFailed>()[0].reply;
  EXPECT_EQ(s.all<SessionFailed>()[0].stage, Stage::kAuth);
  EXPECT_TRUE(r.local);
  EXPECT_TRUE(r.permanent());
  EXPECT_NE(r.text().find("server does not offer AUTH CRAM-MD5 (offers: PLAIN LOGIN)"),
            std::string::npos);
}

TEST(SmtpClient, NoAuthOfferedProceedsUnauthenticated) {
  Session s(with_credentials(TlsMode::kNone));
  s.ready(kEhloPipelining);
  EXPECT_EQ(s.out(), "");
  EXPECT_FALSE(s.client.observations().auth_attempted);
  EXPECT_FALSE(s.client.observations().authenticated);
}

TEST(SmtpClient, AuthAfterStartTlsUsesPostTlsCapabilities) {
  Session s(with_credentials(TlsMode::kStartTls));
  s.connect();
  s.recv("220 mx\r\n");
  s.recv("250-mx\r\n250 STARTTLS\r\n");  // no AUTH in clear
  s.recv("220 go\r\n");
  EXPECT_EQ(s.out(), "EHLO client.example.com\r\nSTARTTLS\r\n");
  s.client.on_tls_established(s.now);
  s.recv("250-mx\r\n250 AUTH PLAIN\r\n");
  EXPECT_EQ(s.out(), "EHLO client.example.com\r\nAUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
}

// ---------------------------------------------------------------- transactions, pipelined

TEST(SmtpClient, PipelinedSessionExactWrites) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"b@y.org", "c@y.org"}));
  EXPECT_EQ(s.out(),
            "MAIL FROM:<a@x.org> SIZE=21\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\nDATA\r\n");
  EXPECT_EQ(s.client.deadline(), s.now + 300'000);  // MAIL's
  EXPECT_TRUE(s.client.can_submit());
  s.submit(envelope(2, {"d@y.org"}, "Subject: 2\r\n\r\n..leading dot\r\n"));
  EXPECT_EQ(s.out(), "");  // waits for the previous end of data
  EXPECT_FALSE(s.client.can_submit());
  EXPECT_EQ(s.client.in_flight(), 2u);
  s.now += 10;
  s.recv("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
  // Body, end of data and the next envelope in one write.
  EXPECT_EQ(s.out(),
            "Subject: t\r\n\r\nhello\r\n.\r\n"
            "MAIL FROM:<a@x.org> SIZE=29\r\nRCPT TO:<d@y.org>\r\nDATA\r\n");
  EXPECT_EQ(s.client.deadline(), s.now + 600'000);  // the final dot's
  s.recv("250 2.0.0 Ok: queued as ABC\r\n");
  ASSERT_EQ(s.count<TransactionDone>(), 1);
  TransactionDone d1 = s.done(1);
  EXPECT_EQ(codes(d1), (std::vector<int>{250, 250}));
  EXPECT_EQ(d1.final_reply.summary(), "250 2.0.0 Ok: queued as ABC");
  EXPECT_FALSE(d1.maybe_delivered);
  EXPECT_TRUE(s.client.can_submit());
  s.recv("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  EXPECT_EQ(s.out(), "Subject: 2\r\n\r\n..leading dot\r\n.\r\n");
  s.recv("250 2.0.0 Ok: queued as DEF\r\n");
  EXPECT_EQ(s.done(2).final_reply.code, 250);
  EXPECT_EQ(s.client.in_flight(), 0u);
  s.quit();
  EXPECT_EQ(s.out(), "QUIT\r\n");
  EXPECT_EQ(s.client.deadline(), s.now + 30'000);
  EXPECT_EQ(s.count<SessionClosed>(), 0);
  s.recv("221 2.0.0 Bye\r\n");
  EXPECT_EQ(s.count<SessionClosed>(), 1);
  EXPECT_EQ(s.count<SessionFailed>(), 0);
  EXPECT_TRUE(s.client.closed());
}

TEST(SmtpClient, RecordsEveryReplyWithItsCommandAndEnvelopeWhenAsked) {
  ClientConfig c = config();
  c.record_replies = true;
  Session s(c);
  s.ready(kEhloPipelining);
  s.submit(envelope(7, {"b@y.org", "c@y.org"}));
  s.recv("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no\r\n354 go\r\n");
  s.recv("250 2.0.0 queued\r\n");  // once the body was written
  s.quit();
  s.recv("221 2.0.0 Bye\r\n");
  std::vector<std::string> seen;
  for (const ReplyRecord& r : s.client.take_replies()) {
    seen.push_back(std::string(r.command) + " " + std::to_string(r.code) + " " +
                   std::to_string(r.envelope));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"greeting 220 0", "EHLO 250 0", "MAIL 250 7",
                                            "RCPT 250 7", "RCPT 550 7", "DATA 354 7",
                                            "end of data 250 7", "QUIT 221 0"}));
  EXPECT_TRUE(s.client.take_replies().empty());  // taken

  Session quiet(config());  // off by default: delivery keeps no record
  quiet.ready(kEhloPipelining);
  EXPECT_TRUE(quiet.client.take_replies().empty());
}

TEST(SmtpClient, PipelinedDeadlineStartsWhenTheReplyBeforeCompletes) {
  Session s(config());
  s.ready(kEhloPipelining);
  Millis sent = s.now;
  s.submit(envelope(1, {"b@y.org"}));
  s.out();
  EXPECT_EQ(s.client.deadline(), sent + 300'000);
  s.now += 250'000;
  s.recv("250 ok\r\n250 o");  // MAIL answered; half a RCPT reply moves nothing
  EXPECT_EQ(s.client.deadline(), s.now + 300'000);
  Millis rcpt_deadline = *s.client.deadline();
  s.now += 100'000;
  s.recv("k\r");
  EXPECT_EQ(s.client.deadline(), rcpt_deadline);
  s.recv("\n");
  EXPECT_EQ(s.client.deadline(), s.now + 120'000);  // DATA's
}

TEST(SmtpClient, NoTimeoutDuringTheTlsHandshake) {
  Session s(config(TlsMode::kStartTls));
  s.connect();
  s.recv("220 mx\r\n");
  s.recv("250-mx\r\n250 STARTTLS\r\n");
  s.recv("220 go\r\n");
  EXPECT_FALSE(s.client.deadline());
  s.client.on_timeout(s.now + 10'000'000);
  s.drain();
  EXPECT_EQ(s.count<SessionFailed>(), 0);
}

TEST(SmtpClient, SubmitAfterEndOfDataGoesOutAtOnce) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"b@y.org"}));
  s.out();
  s.recv("250 ok\r\n250 ok\r\n354 go\r\n");
  s.out();
  s.submit(envelope(2, {"c@y.org"}));
  EXPECT_EQ(s.out(), "MAIL FROM:<a@x.org> SIZE=21\r\nRCPT TO:<c@y.org>\r\nDATA\r\n");
  s.recv("250 queued\r\n250 ok\r\n250 ok\r\n354 go\r\n");
  EXPECT_EQ(s.done(1).final_reply.code, 250);
  EXPECT_EQ(s.out(), "Subject: t\r\n\r\nhello\r\n.\r\n");
}

TEST(SmtpClient, EightBitMimeOnlyWhenOffered) {
  Session s(config());
  s.ready(kEhloPipelining);
  Envelope e = envelope(1, {"b@y.org"});
  e.eight_bit = true;
  s.submit(std::move(e));
  EXPECT_EQ(s.out(), "MAIL FROM:<a@x.org> SIZE=21 BODY=8BITMIME\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
  Session t(config());
  t.ready("250-mx\r\n250 PIPELINING\r\n");
  Envelope f = envelope(1, {"b@y.org"});
  f.eight_bit = true;
  t.submit(std::move(f));
  EXPECT_EQ(t.out(), "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
}

TEST(SmtpClient, SmtpUtf8OnMailFromForAnInternationalizedAddress) {
  Session s(config());
  s.ready("250-mx\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n");
  Envelope e = envelope(1, {"j\xc3\xbcrgen@y.org"});
  e.eight_bit = true;
  e.smtputf8 = true;
  s.submit(std::move(e));
  EXPECT_EQ(s.out(),
            "MAIL FROM:<a@x.org> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<j\xc3\xbcrgen@y.org>\r\n"
            "DATA\r\n");
}

TEST(SmtpClient, NullSender) {
  Session s(config());
  s.ready("250-mx\r\n250 PIPELINING\r\n");
  Envelope e = envelope(1, {"b@y.org"});
  e.mail_from = "";
  s.submit(std::move(e));
  EXPECT_EQ(s.out(), "MAIL FROM:<>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
}

TEST(SmtpClient, MixedRecipientRepliesEachHandledByItsOwn) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"ok@y.org", "busy@y.org", "gone@y.org"}));
  s.out();
  s.recv("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n450 4.2.1 busy\r\n550 5.1.1 unknown user\r\n354 go\r\n");
  EXPECT_EQ(s.out(), "Subject: t\r\n\r\nhello\r\n.\r\n");
  s.recv("250 2.0.0 queued\r\n");
  TransactionDone d = s.done(1);
  EXPECT_EQ(codes(d), (std::vector<int>{250, 450, 550}));
  EXPECT_EQ(d.final_reply.code, 250);
}

TEST(SmtpClient, AllRecipientsRefusedNoBodyThenRset) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"a@y.org", "b@y.org"}));
  s.submit(envelope(2, {"c@y.org"}));
  s.out();
  s.recv("250 ok\r\n550 5.1.1 no\r\n450 4.2.1 later\r\n554 5.5.1 Error: no valid recipients\r\n");
  TransactionDone d = s.done(1);
  EXPECT_EQ(codes(d), (std::vector<int>{550, 450}));
  EXPECT_EQ(d.final_reply.code, 554);
  EXPECT_FALSE(d.maybe_delivered);
  // No body went out; the next transaction starts with RSET.
  EXPECT_EQ(s.out(), "RSET\r\nMAIL FROM:<a@x.org> SIZE=21\r\nRCPT TO:<c@y.org>\r\nDATA\r\n");
  s.recv("250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n");
  EXPECT_EQ(s.out(), "Subject: t\r\n\r\nhello\r\n.\r\n");
}

TEST(SmtpClient, AllRecipientsRefusedBut354SendsOnlyTheDot) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"a@y.org"}));
  s.out();
  s.recv("250 ok\r\n550 5.1.1 no\r\n354 go ahead anyway\r\n");
  EXPECT_EQ(s.out(), ".\r\n");
  s.recv("554 5.5.1 no valid recipients\r\n");
  TransactionDone d = s.done(1);
  EXPECT_EQ(codes(d), std::vector<int>{550});
  EXPECT_EQ(d.final_reply.code, 554);
  s.submit(envelope(2, {"c@y.org"}));
  EXPECT_EQ(s.out(), "MAIL FROM:<a@x.org> SIZE=21\r\nRCPT TO:<c@y.org>\r\nDATA\r\n");  // no RSET
}

TEST(SmtpClient, PipelinedMailRefusedAllRecipientsShareIt) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"a@y.org", "b@y.org"}));
  s.out();
  s.recv(
      "451 4.3.0 try later\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n"
      "503 5.5.1 need MAIL\r\n");
  TransactionDone d = s.done(1);
  EXPECT_EQ(codes(d), (std::vector<int>{451, 451}));  // the 503s never make it permanent
  EXPECT_EQ(d.final_reply.code, 451);
  s.submit(envelope(2, {"c@y.org"}));
  EXPECT_TRUE(s.out().starts_with("RSET\r\nMAIL FROM:"));
}

TEST(SmtpClient, Pipelined452AfterN) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"1@y.org", "2@y.org", "3@y.org", "4@y.org"}));
  s.out();
  s.recv(
      "250 ok\r\n250 ok\r\n250 ok\r\n452 4.5.3 Error: too many recipients\r\n"
      "552 5.5.3 too many\r\n354 go\r\n");
  // MAIL, four RCPTs and DATA: six replies; the 552 answers the fourth RCPT.
  s.out();
  s.recv("250 queued\r\n");
  TransactionDone d = s.done(1);
  EXPECT_EQ(codes(d), (std::vector<int>{250, 250, 452, 452}));
  EXPECT_TRUE(d.recipient_replies[3].transient());
  ASSERT_TRUE(d.recipient_replies[3].enhanced);
  EXPECT_EQ(d.recipient_replies[3].enhanced->klass, 4);
  EXPECT_EQ(d.final_reply.code, 250);
}

// ---------------------------------------------------------------- transactions, no pipelining

TEST(SmtpClient, WithoutPipeliningOneCommandAtATime) {
  Session s(config());
  s.ready(kEhloPlain);
  EXPECT_TRUE(s.client.can_submit());
  s.submit(envelope(1, {"b@y.org", "c@y.org"}));
  EXPECT_FALSE(s.client.can_submit());
  EXPECT_EQ(s.out(), "MAIL FROM:<a@x.org>\r\n");
  s.recv("250 ok\r\n");
  EXPECT_EQ(s.out(), "RCPT TO:<b@y.org>\r\n");
  EXPECT_EQ(s.client.deadline(), s.now + 300'000);
  s.recv("250 ok\r\n");
  EXPECT_EQ(s.out(), "RCPT TO:<c@y.org>\r\n");
  s.recv("550 no\r\n");
  EXPECT_EQ(s.out(), "DATA\r\n");
  EXPECT_EQ(s.client.deadline(), s.now + 120'000);
  s.recv("354 go\r\n");
  EXPECT_EQ(s.out(), "Subject: t\r\n\r\nhello\r\n.\r\n");
  EXPECT_EQ(s.client.deadline(), s.now + 600'000);
  s.recv("250 queued\r\n");
  TransactionDone d = s.done(1);
  EXPECT_EQ(codes(d), (std::vector<int>{250, 550}));
  EXPECT_EQ(d.final_reply.code, 250);
  EXPECT_TRUE(s.client.can_submit());
}

TEST(SmtpClient, WithoutPipeliningMailRefusedThenRset) {
  Session s(config());
  s.ready(kEhloPlain);
  s.submit(envelope(1, {"b@y.org"}));
  s.out();
  s.recv("553 5.7.1 Sender address rejected: not owned by user tim\r\n");
  TransactionDone d = s.done(1);
  EXPECT_EQ(d.final_reply.code, 553);
  EXPECT_EQ(codes(d), std::vector<int>{553});
  EXPECT_EQ(s.out(), "");
  s.submit(envelope(2, {"c@y.org"}));
  EXPECT_EQ(s.out(), "RSET\r\n");
  s.recv("250 ok\r\n");
  EXPECT_EQ(s.out(), "MAIL FROM:<a@x.org>\r\n");
}

TEST(SmtpClient, WithoutPipeliningAllRefusedNoData) {
  Session s(config());
  s.ready(kEhloPlain);
  s.submit(envelope(1, {"b@y.org"}));
  s.recv("250 ok\r\n");
  s.recv("550 5.7.1 Relay access denied\r\n");
  EXPECT_EQ(s.out(), "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\n");
  TransactionDone d = s.done(1);
  EXPECT_EQ(d.final_reply.code, 550);
  EXPECT_EQ(codes(d), std::vector<int>{550});
}

TEST(SmtpClient, WithoutPipelining452StopsRecipients) {
  Session s(config());
  s.ready(kEhloPlain);
  s.submit(envelope(1, {"1@y.org", "2@y.org", "3@y.org"}));
  s.recv("250 ok\r\n");
  s.recv("250 ok\r\n");
  s.recv("552 5.5.3 too many recipients\r\n");  // treated as 452
  EXPECT_EQ(s.out(), "MAIL FROM:<a@x.org>\r\nRCPT TO:<1@y.org>\r\nRCPT TO:<2@y.org>\r\nDATA\r\n");
  s.recv("354 go\r\n");
  s.recv("250 queued\r\n");
  TransactionDone d = s.done(1);
  EXPECT_EQ(codes(d), (std::vector<int>{250, 452, 452}));
  EXPECT_FALSE(d.recipient_replies[1].local);
  EXPECT_TRUE(d.recipient_replies[2].local);  // never tried
  EXPECT_TRUE(d.recipient_replies[2].transient());
  EXPECT_EQ(d.final_reply.code, 250);
}

TEST(SmtpClient, OversizeMessageFailsLocallyWithoutSending) {
  Session s(config());
  s.ready("250-mx\r\n250-PIPELINING\r\n250 SIZE 10\r\n");
  s.submit(envelope(1, {"b@y.org"}));
  EXPECT_EQ(s.out(), "");
  TransactionDone d = s.done(1);
  EXPECT_EQ(d.final_reply.code, 552);
  EXPECT_TRUE(d.final_reply.local);
  EXPECT_EQ(d.final_reply.enhanced->str(), "5.3.4");
  EXPECT_EQ(codes(d), std::vector<int>{552});
  EXPECT_EQ(s.client.in_flight(), 0u);
}

TEST(SmtpClient, AddressWithCrLfNeverReachesTheWire) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"b@y.org>\r\nRCPT TO:<evil@z.org"}));
  EXPECT_EQ(s.out(), "");
  EXPECT_TRUE(s.done(1).final_reply.permanent());
}

TEST(SmtpClient, UnstuffedBodyIsRefusedLocally) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"b@y.org"}, "Subject: x\r\n\r\nhi\r\n.\r\nMAIL FROM:<evil@z>\r\n"));
  s.submit(envelope(2, {"b@y.org"}, ".\r\n"));
  EXPECT_EQ(s.out(), "");
  EXPECT_EQ(s.done(1).final_reply.code, 554);
  EXPECT_EQ(s.done(2).final_reply.code, 554);
}

TEST(SmtpClient, BodyWithoutFinalCrlfGetsOne) {
  Session s(config());
  s.ready(kEhloPlain);
  s.submit(envelope(1, {"b@y.org"}, "no newline"));
  s.recv("250 ok\r\n");
  s.recv("250 ok\r\n");
  s.out();
  s.recv("354 go\r\n");
  EXPECT_EQ(s.out(), "no newline\r\n.\r\n");
}

TEST(SmtpClient, Probe) {
  Session s(config());
  s.ready(kEhloPipelining);
  Envelope e = envelope(1, {"b@y.org"});
  e.probe = true;
  s.submit(std::move(e));
  EXPECT_EQ(s.out(), "MAIL FROM:<a@x.org> SIZE=21\r\nRCPT TO:<b@y.org>\r\nRSET\r\n");
  s.recv("250 ok\r\n250 ok\r\n250 reset\r\n");
  TransactionDone d = s.done(1);
  EXPECT_EQ(codes(d), std::vector<int>{250});
  EXPECT_EQ(d.final_reply.text(), "reset");
}

// ---------------------------------------------------------------- 421 at every stage

void expect_421_end(Session& s, Stage stage) {
  ASSERT_EQ(s.count<SessionFailed>(), 1);
  EXPECT_EQ(s.all<SessionFailed>()[0].stage, stage);
  EXPECT_EQ(s.all<SessionFailed>()[0].reply.code, 421);
  EXPECT_EQ(s.count<SessionClosed>(), 1);
  EXPECT_EQ(s.out(), "");  // no more commands, not even QUIT
  EXPECT_TRUE(s.client.closed());
  EXPECT_FALSE(s.client.can_submit());
  // SessionClosed is the last event.
  EXPECT_TRUE(std::holds_alternative<SessionClosed>(s.events.back()));
}

TEST(SmtpClient, Service421AtGreeting) {
  Session s(config());
  s.connect();
  s.recv("421 4.3.2 shutting down\r\n");
  expect_421_end(s, Stage::kGreeting);
}

TEST(SmtpClient, Service421AtMail) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"b@y.org", "c@y.org"}));
  s.submit(envelope(2, {"d@y.org"}));
  s.out();
  s.recv("421 4.3.2 bye\r\n");
  expect_421_end(s, Stage::kMail);
  EXPECT_EQ(codes(s.done(1)), (std::vector<int>{421, 421}));
  EXPECT_EQ(s.done(1).final_reply.code, 421);
  EXPECT_EQ(codes(s.done(2)), std::vector<int>{421});
}

TEST(SmtpClient, Service421AtRcpt) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"b@y.org", "c@y.org"}));
  s.out();
  s.recv("250 ok\r\n250 ok\r\n421 4.4.2 timeout\r\n");
  expect_421_end(s, Stage::kRcpt);
  EXPECT_EQ(codes(s.done(1)), (std::vector<int>{250, 421}));
  EXPECT_EQ(s.done(1).final_reply.code, 421);
  EXPECT_FALSE(s.done(1).maybe_delivered);
}

TEST(SmtpClient, Service421AtData) {
  Session s(config());
  s.ready(kEhloPlain);
  s.submit(envelope(1, {"b@y.org"}));
  s.recv("250 ok\r\n");
  s.recv("250 ok\r\n");
  s.out();
  s.recv("421 closing\r\n");
  expect_421_end(s, Stage::kData);
  EXPECT_EQ(codes(s.done(1)), std::vector<int>{250});
  EXPECT_EQ(s.done(1).final_reply.code, 421);
}

TEST(SmtpClient, Service421AfterDot) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"b@y.org"}));
  s.submit(envelope(2, {"c@y.org"}));
  s.recv("250 ok\r\n250 ok\r\n354 go\r\n");
  s.out();
  s.recv("421 4.3.0 out of disk\r\n");
  expect_421_end(s, Stage::kData);
  EXPECT_EQ(s.done(1).final_reply.code, 421);
  EXPECT_FALSE(s.done(1).maybe_delivered);  // a definite answer
  EXPECT_EQ(codes(s.done(2)), std::vector<int>{421});
}

TEST(SmtpClient, Service421WhileIdle) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.recv("421 4.4.2 idle timeout\r\n");
  expect_421_end(s, Stage::kMail);
}

// ---------------------------------------------------------------- timeouts and lost connections

TEST(SmtpClient, TimeoutWaitingForData) {
  Session s(config());
  s.ready(kEhloPlain);
  s.submit(envelope(1, {"b@y.org"}));
  s.recv("250 ok\r\n");
  s.recv("250 ok\r\n");
  s.out();
  Millis deadline = *s.client.deadline();
  EXPECT_EQ(deadline, s.now + 120'000);
  s.client.on_timeout(deadline - 1);  // early: ignored
  s.drain();
  EXPECT_EQ(s.count<SessionFailed>(), 0);
  s.client.on_timeout(deadline);
  s.drain();
  ASSERT_EQ(s.count<SessionFailed>(), 1);
  EXPECT_EQ(s.all<SessionFailed>()[0].stage, Stage::kData);
  TransactionDone d = s.done(1);
  EXPECT_EQ(d.final_reply.summary(), "451 4.4.2 timeout waiting for reply to DATA");
  EXPECT_TRUE(d.final_reply.local);
  EXPECT_EQ(codes(d), std::vector<int>{250});
  EXPECT_FALSE(d.maybe_delivered);
  EXPECT_EQ(s.count<SessionClosed>(), 1);
  EXPECT_EQ(s.out(), "");
}

TEST(SmtpClient, TimeoutAfterDotIsMaybeDelivered) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"b@y.org"}));
  s.recv("250 ok\r\n250 ok\r\n354 go\r\n");
  s.out();
  s.client.on_timeout(*s.client.deadline());
  s.drain();
  TransactionDone d = s.done(1);
  EXPECT_TRUE(d.maybe_delivered);
  EXPECT_EQ(d.final_reply.summary(), "451 4.4.2 timeout waiting for reply to end of data");
}

TEST(SmtpClient, TimeoutAtGreeting) {
  Session s(config());
  s.connect();
  s.client.on_timeout(s.now + 300'000);
  s.drain();
  ASSERT_EQ(s.count<SessionFailed>(), 1);
  EXPECT_EQ(s.all<SessionFailed>()[0].stage, Stage::kGreeting);
  EXPECT_EQ(s.all<SessionFailed>()[0].reply.summary(),
            "451 4.4.2 timeout waiting for the greeting");
}

TEST(SmtpClient, TricklingServerCannotExtendTheDeadline) {
  Session s(config());
  s.connect();
  Millis deadline = *s.client.deadline();
  const std::string greeting = "220-" + std::string(300, 'x') + "\r\n";
  for (char c : greeting) {
    s.now += 1'000;
    s.recv(std::string_view(&c, 1));
    if (s.now >= deadline) break;
    EXPECT_EQ(s.client.deadline(), deadline);
  }
  s.client.on_timeout(deadline);
  s.drain();
  ASSERT_EQ(s.count<SessionFailed>(), 1);
  EXPECT_EQ(s.all<SessionFailed>()[0].stage, Stage::kGreeting);
  EXPECT_TRUE(s.client.closed());
}

TEST(SmtpClient, TricklingEndlessContinuationLinesHitTheCap) {
  Session s(config());
  s.connect();
  for (int i = 0; i < 1000 && !s.client.closed(); ++i) s.recv("220-more\r\n");
  ASSERT_EQ(s.count<SessionFailed>(), 1);
  EXPECT_NE(s.all<SessionFailed>()[0].reply.text().find("4.5.0 malformed reply"),
            std::string::npos);
}

TEST(SmtpClient, ConnectionLostAfterDotIsMaybeDelivered) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"b@y.org", "c@y.org"}));
  s.recv("250 ok\r\n250 ok\r\n550 no\r\n354 go\r\n");
  s.out();  // the end of data was written
  s.client.on_connection_lost("connection reset by peer", s.now);
  s.drain();
  TransactionDone d = s.done(1);
  EXPECT_TRUE(d.maybe_delivered);
  EXPECT_EQ(codes(d), (std::vector<int>{250, 550}));
  EXPECT_TRUE(d.final_reply.local);
  EXPECT_TRUE(d.final_reply.transient());
  EXPECT_NE(d.final_reply.text().find("connection lost after end of data"), std::string::npos);
  ASSERT_EQ(s.count<SessionFailed>(), 1);
  EXPECT_EQ(s.all<SessionFailed>()[0].stage, Stage::kData);
  EXPECT_EQ(s.count<SessionClosed>(), 1);
}

TEST(SmtpClient, ConnectionLostBeforeTheDotWasWrittenIsNotMaybeDelivered) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"b@y.org"}));
  s.out();
  s.recv("250 ok\r\n250 ok\r\n354 go\r\n");
  // The driver never took the body and the dot.
  s.client.on_connection_lost("reset", s.now);
  s.drain();
  EXPECT_FALSE(s.done(1).maybe_delivered);
}

TEST(SmtpClient, ConnectionLostAtRcpt) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"b@y.org", "c@y.org"}));
  s.out();
  s.recv("250 ok\r\n250 ok\r\n");
  s.client.on_connection_lost("", s.now);
  s.drain();
  TransactionDone d = s.done(1);
  EXPECT_EQ(codes(d), (std::vector<int>{250, 451}));
  EXPECT_TRUE(d.recipient_replies[1].local);
  EXPECT_FALSE(d.maybe_delivered);
  EXPECT_EQ(s.all<SessionFailed>()[0].stage, Stage::kRcpt);
}

TEST(SmtpClient, MalformedReplyAbortsTheSession) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.submit(envelope(1, {"b@y.org"}));
  s.out();
  s.recv("250 ok\r\nHTTP/1.1 400 Bad Request\r\n");
  ASSERT_EQ(s.count<SessionFailed>(), 1);
  EXPECT_EQ(s.all<SessionFailed>()[0].stage, Stage::kRcpt);
  TransactionDone d = s.done(1);
  EXPECT_TRUE(d.final_reply.transient());
  EXPECT_NE(d.final_reply.summary().find("4.5.0 malformed reply"), std::string::npos);
  EXPECT_EQ(s.out(), "");
}

// ---------------------------------------------------------------- QUIT

TEST(SmtpClient, QuitWaitsForInFlightTransactions) {
  Session s(config());
  s.ready(kEhloPlain);
  s.submit(envelope(1, {"b@y.org"}));
  s.out();
  s.quit();
  EXPECT_FALSE(s.client.can_submit());
  EXPECT_EQ(s.out(), "");
  s.recv("250 ok\r\n");
  s.recv("250 ok\r\n");
  s.recv("354 go\r\n");
  s.out();
  s.recv("250 queued\r\n");
  EXPECT_EQ(s.out(), "QUIT\r\n");
  s.client.on_timeout(*s.client.deadline());  // no 221: closed all the same
  s.drain();
  EXPECT_EQ(s.count<SessionClosed>(), 1);
  EXPECT_EQ(s.count<SessionFailed>(), 0);
}

TEST(SmtpClient, QuitBeforeReadySendsQuitAfterGreeting) {
  Session s(config());
  s.connect();
  s.quit();
  s.recv("220 mx\r\n");
  EXPECT_EQ(s.out(), "QUIT\r\n");
  s.recv("221 bye\r\n");
  EXPECT_EQ(s.count<SessionClosed>(), 1);
  EXPECT_EQ(s.count<SessionReady>(), 0);
}

TEST(SmtpClient, QuitBeforeReadyStillRunsSubmittedTransactions) {
  Session s(config());
  s.connect();
  s.submit(envelope(1, {"b@y.org"}));
  s.quit();
  s.recv("220 mx\r\n");
  EXPECT_EQ(s.out(), "EHLO client.example.com\r\n");
  s.recv(kEhloPipelining);
  EXPECT_EQ(s.out(), "MAIL FROM:<a@x.org> SIZE=21\r\nRCPT TO:<b@y.org>\r\nDATA\r\n");
  s.recv("250 ok\r\n250 ok\r\n354 go\r\n");
  s.out();
  s.recv("250 queued\r\n");
  EXPECT_EQ(s.done(1).final_reply.code, 250);
  EXPECT_EQ(s.out(), "QUIT\r\n");
  s.recv("221 bye\r\n");
  EXPECT_EQ(s.count<SessionClosed>(), 1);
  EXPECT_EQ(s.count<SessionFailed>(), 0);
}

TEST(SmtpClient, SubmitAfterCloseIsAnsweredLocally) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.quit();
  EXPECT_EQ(s.out(), "QUIT\r\n");
  s.recv("221 bye\r\n");
  s.submit(envelope(9, {"b@y.org"}));
  EXPECT_EQ(s.out(), "");
  TransactionDone d = s.done(9);
  EXPECT_TRUE(d.final_reply.transient());
  EXPECT_EQ(codes(d), std::vector<int>{451});
}

TEST(SmtpClient, ConnectionLostDuringQuitOnlyCloses) {
  Session s(config());
  s.ready(kEhloPipelining);
  s.quit();
  s.client.on_connection_lost("eof", s.now);
  s.drain();
  EXPECT_EQ(s.count<SessionClosed>(), 1);
  EXPECT_EQ(s.count<SessionFailed>(), 0);
}

TEST(SmtpClient, MoveKeepsTheSession) {
  SmtpClient a(config());
  a.on_connected(0);
  SmtpClient b(std::move(a));
  b.on_received("220 hi\r\n", 1);
  EXPECT_EQ(b.take_output(), "EHLO client.example.com\r\n");
}

}  // namespace
}  // namespace ringmta::protocol
