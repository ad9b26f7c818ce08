// Turns a smart host's refusal plus what the session saw into a plain-words diagnosis.
// Pure functions over replies and Observations: no I/O, no configuration reading.
#pragma once

#include <optional>
#include <string>

#include "protocol/smtp_client.h"
#include "protocol/smtp_reply.h"

namespace ringmta::protocol {

// What a refusal at MAIL/RCPT (or the session) means for a smart-host route.
enum class RefusalKind {
  kNone,            // not a refusal (2xx/3xx)
  kRelayDenied,     // "Relay access denied", "Relaying denied", "not permitted to relay", ...
  kAuthRequired,    // 530 5.7.0 / "Authentication required"
  kAuthFailed,      // 535 / 5.7.8 at AUTH
  kSenderRejected,  // "Sender address rejected: not owned by user", "sender login mismatch"
  kHeloRejected,    // "Helo command rejected", "need fully-qualified hostname"
  kTlsRequired,     // "Must issue a STARTTLS command first", 530 5.7.0 with STARTTLS wording
  // The receiver refuses mail not authenticated for the sender's domains: DMARC/DKIM (5.7.26,
  // Outlook's 5.7.515, "unauthenticated"), SPF (5.7.23, 5.7.27), reverse DNS (5.7.25): a
  // configuration problem of the sender's domain, not of the recipient.
  kSenderAuthentication,
  kRecipientRejected,  // an ordinary permanent refusal of this one recipient
  kTransient,          // 4xx: defer
};

// Classifies a reply at a given stage. Configuration refusals (everything but kRecipientRejected,
// kTransient, kNone) mean: pause the route, keep the recipients queued, do not bounce.
RefusalKind classify_refusal(Stage stage, const Reply& reply);
bool is_configuration_refusal(RefusalKind kind);
// What a session that failed at `stage` points to: classify_refusal's kind when that is a
// configuration refusal; otherwise the failed stage's own when the reply alone says nothing:
// a failed TLS handshake or STARTTLS is kTlsRequired, a permanent refusal at AUTH kAuthFailed,
// a permanent refusal of EHLO kHeloRejected. Else classify_refusal's kind. A protocol error of the
// server is kTransient whatever the stage: it says nothing about the configuration.
RefusalKind classify_session_failure(const SessionFailed& failed);

// What ringmta itself was configured with, for the diagnosis.
struct RouteFacts {
  bool credentials_given = false;
  bool pop_before_smtp = false;
  TlsMode tls = TlsMode::kStartTls;
  std::string ehlo_name;
  std::string sender;  // envelope Sender
  std::string user;
  bool smarthost_is_address = false;  // --smarthost is an IP literal
  bool tls_name_given = false;        // --tls-name
  bool direct = false;                // no smart host: ringmta's own address sends
  std::string dkim_domains;           // the signing domains configured, "" for none
};

// A diagnosis in plain words: the likely cause first, then what to change (which flag). Example:
// "The smart host refused to relay (554 5.7.1 <x@y>: Relay access denied). No user name and
// password were given, but the server offers AUTH (PLAIN LOGIN): pass --user and --password-file."
std::string diagnose(RefusalKind kind, const Reply& refusal, const Observations& seen,
                     const RouteFacts& facts);

// The POP-before-SMTP login to `server` failed for `reason`: what the smart host will do and what
// to check (delivery and `ringmta check` say the same).
std::string diagnose_pop_login(const std::string& server, const std::string& reason);

}  // namespace ringmta::protocol
