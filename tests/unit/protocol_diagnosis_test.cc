// Unit tests for protocol::classify_refusal and protocol::diagnose: real servers' wording, and the
// advice each combination of configuration and observations leads to. Pure functions.
#include <gtest/gtest.h>

#include "protocol/diagnosis.h"

namespace ringmta::protocol {
namespace {

Reply reply(int code, std::string text) {
  ReplyParser p;
  EXPECT_TRUE(p.feed(std::to_string(code) + " " + text + "\r\n"));
  auto r = p.next();
  return r ? *r : Reply{};
}

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(ClassifyRefusal, Wording) {
  struct Case {
    Stage stage;
    int code;
    const char* text;
    RefusalKind want;
  };
  const Case cases[] = {
      {Stage::kRcpt, 250, "2.1.5 Ok", RefusalKind::kNone},
      {Stage::kRcpt, 554, "5.7.1 <x@y.org>: Relay access denied", RefusalKind::kRelayDenied},
      {Stage::kRcpt, 550, "5.7.1 Relaying denied", RefusalKind::kRelayDenied},
      {Stage::kRcpt, 550, "5.7.1 Unable to relay for x@y.org", RefusalKind::kRelayDenied},
      {Stage::kRcpt, 550, "we do not relay, RELAY NOT PERMITTED", RefusalKind::kRelayDenied},
      {Stage::kRcpt, 550, "5.7.1 Client host not permitted to relay", RefusalKind::kRelayDenied},
      {Stage::kRcpt, 553, "sorry, relaying not allowed", RefusalKind::kRelayDenied},
      {Stage::kMail, 553, "5.7.1 <a@x>: Sender address rejected: not owned by user tim",
       RefusalKind::kSenderRejected},
      {Stage::kMail, 553, "5.7.1 Sender login mismatch", RefusalKind::kSenderRejected},
      {Stage::kRcpt, 554, "5.7.1 <pc>: Helo command rejected: need fully-qualified hostname",
       RefusalKind::kHeloRejected},
      {Stage::kEhlo, 501, "5.5.2 Invalid EHLO/HELO name", RefusalKind::kHeloRejected},
      {Stage::kEhlo, 550, "go away", RefusalKind::kHeloRejected},
      {Stage::kMail, 530, "5.7.0 Authentication required", RefusalKind::kAuthRequired},
      {Stage::kRcpt, 550, "5.7.1 Authentication is required to send", RefusalKind::kAuthRequired},
      {Stage::kMail, 530, "5.7.0 Must issue a STARTTLS command first", RefusalKind::kTlsRequired},
      {Stage::kStartTls, 530, "5.7.10 STARTTLS required but not offered by the server",
       RefusalKind::kTlsRequired},
      {Stage::kAuth, 535, "5.7.8 Error: authentication failed", RefusalKind::kAuthFailed},
      {Stage::kAuth, 504, "5.7.4 server does not offer AUTH CRAM-MD5", RefusalKind::kAuthFailed},
      {Stage::kRcpt, 550, "5.1.1 <nobody@y.org>: Recipient address rejected: User unknown",
       RefusalKind::kRecipientRejected},
      {Stage::kData, 550,
       "5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail "
       "users, and has been blocked.",
       RefusalKind::kSenderAuthentication},
      {Stage::kData, 550,
       "5.7.515 Access denied, sending domain example.org doesn't meet the required "
       "authentication level.",
       RefusalKind::kSenderAuthentication},
      {Stage::kData, 550, "5.7.25 The IP address sending this message does not have a PTR record",
       RefusalKind::kSenderAuthentication},
      {Stage::kRcpt, 550, "5.7.1 Reject due to SPF policy", RefusalKind::kSenderAuthentication},
      {Stage::kData, 550,
       "5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo requires "
       "all senders to authenticate with either SPF or DKIM.",
       RefusalKind::kSenderAuthentication},
      {Stage::kData, 421, "4.7.26 unauthenticated: try later", RefusalKind::kTransient},
      {Stage::kRcpt, 450, "4.7.1 Relay access denied (soft)", RefusalKind::kTransient},
      {Stage::kRcpt, 451, "4.7.1 greylisted, try again", RefusalKind::kTransient},
      {Stage::kData, 421, "4.3.2 shutting down", RefusalKind::kTransient},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(classify_refusal(c.stage, reply(c.code, c.text)), c.want) << c.code << " " << c.text;
  }
}

TEST(ClassifyRefusal, ConfigurationKinds) {
  EXPECT_TRUE(is_configuration_refusal(RefusalKind::kRelayDenied));
  EXPECT_TRUE(is_configuration_refusal(RefusalKind::kAuthRequired));
  EXPECT_TRUE(is_configuration_refusal(RefusalKind::kAuthFailed));
  EXPECT_TRUE(is_configuration_refusal(RefusalKind::kSenderRejected));
  EXPECT_TRUE(is_configuration_refusal(RefusalKind::kHeloRejected));
  EXPECT_TRUE(is_configuration_refusal(RefusalKind::kTlsRequired));
  EXPECT_TRUE(is_configuration_refusal(RefusalKind::kSenderAuthentication));
  EXPECT_FALSE(is_configuration_refusal(RefusalKind::kRecipientRejected));
  EXPECT_FALSE(is_configuration_refusal(RefusalKind::kTransient));
  EXPECT_FALSE(is_configuration_refusal(RefusalKind::kNone));
}

TEST(ClassifySessionFailure, TheFailedStageExplainsWhatTheReplyDoesNot) {
  using ringmta::protocol::classify_session_failure;
  // The reply's own wording wins where it names a configuration problem.
  EXPECT_EQ(classify_session_failure(
                {Stage::kEhlo, reply(530, "5.7.0 Must issue a STARTTLS command first")}),
            RefusalKind::kTlsRequired);
  // Otherwise the stage: any TLS failure, a permanent AUTH or EHLO refusal.
  EXPECT_EQ(classify_session_failure({Stage::kTlsHandshake, reply(421, "4.4.2 handshake failed")}),
            RefusalKind::kTlsRequired);
  EXPECT_EQ(classify_session_failure({Stage::kStartTls, reply(454, "4.7.0 TLS not available")}),
            RefusalKind::kTlsRequired);
  EXPECT_EQ(classify_session_failure({Stage::kAuth, reply(535, "5.7.8 Error: bad credentials")}),
            RefusalKind::kAuthFailed);
  EXPECT_EQ(classify_session_failure({Stage::kEhlo, reply(550, "5.5.0 go away")}),
            RefusalKind::kHeloRejected);
  // A temporary refusal at AUTH or EHLO stays temporary; later stages keep the reply's kind.
  EXPECT_EQ(classify_session_failure(
                {Stage::kAuth, reply(454, "4.7.0 Temporary authentication failure")}),
            RefusalKind::kTransient);
  EXPECT_EQ(classify_session_failure({Stage::kEhlo, reply(421, "4.3.2 busy")}),
            RefusalKind::kTransient);
  EXPECT_EQ(classify_session_failure({Stage::kRcpt, reply(550, "5.1.1 no such user")}),
            RefusalKind::kRecipientRejected);
  // The server's protocol error is no configuration problem, whatever the stage.
  for (Stage stage : {Stage::kGreeting, Stage::kStartTls, Stage::kAuth, Stage::kMail}) {
    SessionFailed failed{stage, Reply::make_local(451, "4.5.0", "protocol error: 250 to DATA"),
                         true};
    EXPECT_EQ(classify_session_failure(failed), RefusalKind::kTransient) << stage_name(stage);
  }
}

Observations offering(std::vector<std::string> mechanisms) {
  Observations o;
  o.greeting_seen = true;
  o.caps_before_tls.esmtp = true;
  o.caps_before_tls.auth_mechanisms = std::move(mechanisms);
  return o;
}

const Reply kRelay = reply(554, "5.7.1 <x@y.org>: Relay access denied");

TEST(Diagnose, UnauthenticatedMailNamesTheRecordToFix) {
  RouteFacts facts;
  facts.direct = true;
  facts.sender = "bounces@example.org";
  const Observations seen;
  auto said = [&](int code, const char* text) {
    return diagnose(RefusalKind::kSenderAuthentication, reply(code, text), seen, facts);
  };
  std::string dmarc = said(550, "5.7.26 This mail is unauthenticated");
  EXPECT_TRUE(has(dmarc, "The receiving server refuses the mail as not authenticated")) << dmarc;
  EXPECT_TRUE(has(dmarc, "No DKIM key is configured")) << dmarc;
  EXPECT_TRUE(has(dmarc, "ringmta dkim keygen")) << dmarc;
  EXPECT_TRUE(has(dmarc, "nothing is bounced")) << dmarc;
  facts.dkim_domains = "example.org";
  dmarc = said(550, "5.7.26 This mail is unauthenticated");
  EXPECT_TRUE(has(dmarc, "Mail is signed for example.org: check that the selector's TXT record"))
      << dmarc;
  std::string ptr = said(550, "5.7.25 The IP address sending this message does not have a PTR");
  EXPECT_TRUE(has(ptr, "reverse DNS (PTR) record")) << ptr;
  EXPECT_TRUE(has(ptr, "--smarthost")) << ptr;
  std::string spf = said(550, "5.7.27 does not pass SPF");
  EXPECT_TRUE(has(spf, "The SPF record of example.org")) << spf;
  EXPECT_TRUE(has(spf, "ip4:")) << spf;
  facts.direct = false;
  spf = said(550, "5.7.27 does not pass SPF");
  EXPECT_TRUE(has(spf, "The smart host refuses")) << spf;
  EXPECT_TRUE(has(spf, "include:")) << spf;
}

TEST(Diagnose, NoCredentialsButAuthOffered) {
  RouteFacts facts;
  std::string d = diagnose(RefusalKind::kRelayDenied, kRelay, offering({"PLAIN", "LOGIN"}), facts);
  EXPECT_TRUE(has(d, "refused to relay (554 5.7.1 <x@y.org>: Relay access denied)")) << d;
  EXPECT_TRUE(has(d, "offers AUTH (PLAIN LOGIN)")) << d;
  EXPECT_TRUE(has(d, "pass --user and --password-file")) << d;
}

TEST(Diagnose, AuthOnlyAfterStartTlsWithTlsNone) {
  RouteFacts facts;
  facts.tls = TlsMode::kNone;
  Observations o = offering({});
  o.caps_before_tls.starttls = true;
  std::string d = diagnose(RefusalKind::kRelayDenied, kRelay, o, facts);
  EXPECT_TRUE(has(d, "only after STARTTLS")) << d;
  EXPECT_TRUE(has(d, "--tls none")) << d;
  EXPECT_TRUE(has(d, "--tls starttls")) << d;
  EXPECT_TRUE(has(d, "554 5.7.1")) << d;
}

TEST(Diagnose, NoAuthAtAllSuggestsPopBeforeSmtp) {
  RouteFacts facts;
  std::string d = diagnose(RefusalKind::kRelayDenied, kRelay, offering({}), facts);
  EXPECT_TRUE(has(d, "POP-before-SMTP (--pop-before-smtp HOST) or to allow your IP")) << d;
  facts.credentials_given = true;
  d = diagnose(RefusalKind::kRelayDenied, kRelay, offering({}), facts);
  EXPECT_TRUE(has(d, "--pop-before-smtp HOST")) << d;
  EXPECT_TRUE(has(d, "offers no AUTH")) << d;
  facts.pop_before_smtp = true;
  d = diagnose(RefusalKind::kRelayDenied, kRelay, offering({}), facts);
  EXPECT_FALSE(has(d, "--pop-before-smtp HOST")) << d;
  EXPECT_TRUE(has(d, "allow your IP")) << d;
}

TEST(Diagnose, AuthenticatedAndStillRelayDenied) {
  RouteFacts facts;
  facts.credentials_given = true;
  facts.user = "tim";
  Observations o = offering({"PLAIN"});
  o.auth_attempted = true;
  o.authenticated = true;
  std::string d = diagnose(RefusalKind::kRelayDenied, kRelay, o, facts);
  EXPECT_TRUE(has(d, "authenticated as tim")) << d;
  EXPECT_TRUE(has(d, "the account may not relay for this recipient/sender")) << d;
  EXPECT_TRUE(has(d, "Relay access denied")) << d;
}

TEST(Diagnose, AuthenticationFailed) {
  RouteFacts facts;
  facts.credentials_given = true;
  facts.user = "tim";
  Observations o = offering({"PLAIN"});
  o.auth_attempted = true;
  o.auth_mechanism_used = AuthMechanism::kPlain;
  Reply r = reply(535, "5.7.8 Error: authentication failed: authentication failure");
  o.auth_refusal = r;
  std::string d = diagnose(classify_refusal(Stage::kAuth, r), r, o, facts);
  EXPECT_TRUE(has(d, "check the user name and password") ||
              has(d, "Check the user name and password"))
      << d;
  EXPECT_TRUE(has(d, "535 5.7.8")) << d;
  EXPECT_TRUE(has(d, "PLAIN")) << d;
}

TEST(Diagnose, MechanismNotOffered) {
  RouteFacts facts;
  facts.credentials_given = true;
  Observations o = offering({"PLAIN", "LOGIN"});
  Reply r =
      Reply::make_local(504, "5.7.4", "server does not offer AUTH CRAM-MD5 (offers: PLAIN LOGIN)");
  std::string d = diagnose(RefusalKind::kAuthFailed, r, o, facts);
  EXPECT_TRUE(has(d, "--auth")) << d;
  EXPECT_TRUE(has(d, "server does not offer AUTH CRAM-MD5")) << d;
}

TEST(Diagnose, SenderLoginMismatch) {
  RouteFacts facts;
  facts.credentials_given = true;
  facts.user = "tim@example.com";
  facts.sender = "news@other.org";
  Observations o = offering({"PLAIN"});
  o.authenticated = true;
  Reply r = reply(553, "5.7.1 <news@other.org>: Sender address rejected: not owned by user tim");
  std::string d = diagnose(classify_refusal(Stage::kMail, r), r, o, facts);
  EXPECT_TRUE(has(d,
                  "the envelope Sender news@other.org is not owned by the logged-in user "
                  "tim@example.com: set --sender to an address of that user"))
      << d;
  EXPECT_TRUE(has(d, "553 5.7.1")) << d;
}

TEST(Diagnose, HeloNotFullyQualified) {
  RouteFacts facts;
  facts.ehlo_name = "laptop";
  Reply r = reply(554, "5.7.1 <laptop>: Helo command rejected: need fully-qualified hostname");
  std::string d = diagnose(classify_refusal(Stage::kRcpt, r), r, offering({}), facts);
  EXPECT_TRUE(has(d, "pass --ehlo with a fully-qualified host name")) << d;
  EXPECT_TRUE(has(d, "\"laptop\"")) << d;
  EXPECT_TRUE(has(d, "Helo command rejected")) << d;
}

TEST(Diagnose, TlsRequired) {
  RouteFacts facts;
  facts.tls = TlsMode::kNone;
  Reply r = reply(530, "5.7.0 Must issue a STARTTLS command first");
  std::string d = diagnose(classify_refusal(Stage::kMail, r), r, offering({}), facts);
  EXPECT_TRUE(has(d, "--tls starttls")) << d;
  EXPECT_TRUE(has(d, "530 5.7.0 Must issue a STARTTLS command first")) << d;

  facts.tls = TlsMode::kStartTls;
  Reply local = Reply::make_local(530, "5.7.10", "STARTTLS required but not offered by the server");
  d = diagnose(classify_refusal(Stage::kStartTls, local), local, offering({}), facts);
  EXPECT_TRUE(has(d, "does not offer STARTTLS")) << d;
  EXPECT_TRUE(has(d, "--tls implicit")) << d;
}

TEST(Diagnose, AnAddressWhoseCertificateNamesTheHostSuggestsTlsName) {
  RouteFacts facts;
  facts.smarthost_is_address = true;
  Reply mismatch = Reply::make_local(
      421, "4.7.5", "TLS handshake failed: certificate verify failed (IP address mismatch)");
  Observations starttls = offering({});
  starttls.caps_before_tls.starttls = true;
  std::string d =
      diagnose(ringmta::protocol::classify_session_failure({Stage::kTlsHandshake, mismatch}),
               mismatch, starttls, facts);
  EXPECT_TRUE(has(d, "--tls-name")) << d;
  facts.tls_name_given = true;  // given already: the usual advice
  d = diagnose(RefusalKind::kTlsRequired, mismatch, starttls, facts);
  EXPECT_FALSE(has(d, "--tls-name")) << d;
  EXPECT_TRUE(has(d, "--ca-file")) << d;
  facts = RouteFacts{};  // reached by name: a name mismatch is not this case
  d = diagnose(RefusalKind::kTlsRequired, mismatch, starttls, facts);
  EXPECT_FALSE(has(d, "--tls-name")) << d;
}

TEST(Diagnose, TransientAndRecipient) {
  RouteFacts facts;
  Reply grey = reply(450, "4.7.1 greylisted");
  std::string d = diagnose(classify_refusal(Stage::kRcpt, grey), grey, offering({}), facts);
  EXPECT_TRUE(has(d, "retried")) << d;
  EXPECT_TRUE(has(d, "450 4.7.1 greylisted")) << d;
  Reply unknown = reply(550, "5.1.1 User unknown");
  d = diagnose(classify_refusal(Stage::kRcpt, unknown), unknown, offering({}), facts);
  EXPECT_TRUE(has(d, "550 5.1.1 User unknown")) << d;
}

TEST(Diagnose, AuthRequiredWithoutCredentials) {
  RouteFacts facts;
  Reply r = reply(530, "5.7.0 Authentication required");
  std::string d = diagnose(classify_refusal(Stage::kMail, r), r, offering({"LOGIN"}), facts);
  EXPECT_TRUE(has(d, "requires authentication")) << d;
  EXPECT_TRUE(has(d, "pass --user and --password-file")) << d;
}

}  // namespace
}  // namespace ringmta::protocol
