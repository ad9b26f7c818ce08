// SmtpClient: the client side of one SMTP connection as a sans-I/O state machine.
//
// The driver (engine/) owns the socket and TLS. It feeds the client plaintext bytes, the time, and
// TLS results; the client answers with bytes to send, a deadline, and events. The client never
// reads a clock or a socket, so every path (pipelining, 421 at any stage, timeouts, STARTTLS
// injection) is unit-tested by feeding bytes.
//
// Phases only move forward: Greeting → Ehlo → [StartTls → TlsHandshake → Ehlo] → [Auth] →
// Ready ⇄ (transactions) → Quit → Closed. Any failure jumps to Closed with a SessionFailed event.
// Each command waits for its whole reply under the RFC 5321 §4.5.3.2 timeout for that command; the
// deadline is not extended by partial bytes, so a server trickling bytes cannot hold a connection.
// Each awaited reply has the codes that may answer it (220 greeting/STARTTLS, 250 EHLO/MAIL/RSET,
// 250/251/252 RCPT, 334/235 AUTH, 354 DATA, 2xx end of data); anything else but a 4xx/5xx, a
// reply before its command was written, or a malformed one ends the session as a protocol error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "protocol/ehlo.h"
#include "protocol/smtp_reply.h"
#include "util/time.h"

namespace ringmta::protocol {

// kStartTls: STARTTLS required (smart hosts; MX hosts under a "required" policy).
// kOpportunistic: STARTTLS when the server offers it, else clear text (MX hosts by default).
enum class TlsMode { kNone, kStartTls, kImplicit, kOpportunistic };
enum class AuthMechanism { kAuto, kPlain, kLogin, kCramMd5 };

// RFC 5321 §4.5.3.2 minimums, in milliseconds.
struct Timeouts {
  Millis greeting = 300'000;
  Millis ehlo = 300'000;
  Millis starttls = 120'000;
  Millis auth = 120'000;
  Millis mail = 300'000;
  Millis rcpt = 300'000;
  Millis data = 120'000;        // reply to DATA (354)
  Millis data_block = 180'000;  // unused by the client itself; the driver's send timeout
  Millis final_dot = 600'000;   // reply to end of data
  Millis rset = 120'000;
  Millis quit = 30'000;
};

struct Credentials {
  std::string user;
  std::string password;
};

class ReplyObserver;

struct ClientConfig {
  std::string ehlo_name;
  TlsMode tls = TlsMode::kStartTls;  // kStartTls: required; never AUTH or MAIL in clear
  std::optional<Credentials> credentials;
  AuthMechanism auth = AuthMechanism::kAuto;
  Timeouts timeouts;
  // Keep a record of every reply (`ringmta blast` times each command); off for delivery.
  bool record_replies = false;
  // Told of every reply to a command (the shard's counters); null: nobody. Outlives the client.
  ReplyObserver* reply_observer = nullptr;
};

// One reply as it arrived, for a driver that times commands (ClientConfig::record_replies).
struct ReplyRecord {
  const char* command;  // "greeting", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "end of
                        // data", "RSET", "QUIT"
  int code = 0;
  uint64_t envelope = 0;  // Envelope::id of the transaction it belongs to; 0 = none
};

// One mail transaction. The body is wire-ready: CRLF line ends, dot-stuffed, ends with CRLF, and
// has no terminating "." line (the client appends ".\r\n").
struct Envelope {
  uint64_t id = 0;        // the caller's token, returned in TransactionDone
  std::string mail_from;  // address without angle brackets; "" is the null reverse-path
  std::vector<std::string> recipients;
  std::string body;
  bool eight_bit = false;  // adds BODY=8BITMIME when the server offers it
  // An address in it has a non-ASCII local part: MAIL FROM gets SMTPUTF8 (RFC 6531 §3.4). Only
  // for a server whose EHLO offers it: to another, such an envelope must not be submitted.
  bool smtputf8 = false;
  // A probe (`ringmta check`): MAIL and RCPT only, then RSET instead of DATA; no body is sent.
  // final_reply is the RSET reply (or the refusal that ended the transaction).
  bool probe = false;
};

// What happened at the phase where a session failed.
enum class Stage {
  kConnect,
  kGreeting,
  kEhlo,
  kStartTls,
  kTlsHandshake,
  kAuth,
  kMail,
  kRcpt,
  kData,
  kQuit
};
inline constexpr std::size_t kStageCount = 10;
const char* stage_name(Stage stage);

// Told of each reply the server gives to a command, with the stage it answers (not of the local
// replies the client makes up for timeouts and lost connections).
class ReplyObserver {
 public:
  virtual void on_reply(Stage stage, int code) = 0;

 protected:
  ~ReplyObserver() = default;
};
const char* mechanism_name(AuthMechanism mechanism);  // "PLAIN", "LOGIN", "CRAM-MD5", "auto"

// Events the driver takes with SmtpClient::poll_event().
struct TlsHandshakeNeeded {};  // start the TLS handshake now; then on_tls_established/on_tls_failed
struct SessionReady {};        // authenticated (if configured) and able to take transactions
struct TransactionDone {
  uint64_t id = 0;
  // One reply per recipient, in Envelope order. Recipients never answered (connection lost, 421,
  // 452 cut-off) carry a local transient reply.
  std::vector<Reply> recipient_replies;
  // The reply that decided the transaction for the recipients whose RCPT was accepted: the reply to
  // the end of data, or to MAIL/DATA if those failed, or a local reply.
  Reply final_reply;
  // The server answered the end of data with a 2xx: the recipients whose RCPT it accepted are
  // delivered. Nothing else counts as delivered (RFC 5321 §4.3.2: a reply outside the set that
  // may answer a command is the server's protocol error, and the transaction is deferred).
  bool delivered = false;
  // The end of data was sent but no reply came: the server may have accepted it (possible
  // duplicate).
  bool maybe_delivered = false;
};
struct SessionFailed {
  Stage stage = Stage::kConnect;
  Reply
      reply;  // the server's refusal, or a local reply (timeout, malformed reply, lost connection)
  // The server broke the protocol (a malformed reply, one outside the codes that may answer the
  // command, or one before its command was sent): the reply is local and says which.
  bool protocol_error = false;
};
struct SessionClosed {};  // the driver must close the socket now (after QUIT, or after a failure)
using ClientEvent =
    std::variant<TlsHandshakeNeeded, SessionReady, TransactionDone, SessionFailed, SessionClosed>;

// What the session saw, for diagnosing a relay refusal in plain words (protocol/diagnosis.h).
struct Observations {
  bool greeting_seen = false;
  bool ehlo_rejected = false;  // EHLO refused (then HELO was tried)
  std::optional<Reply> helo_refusal;
  Capabilities caps_before_tls;  // EHLO answer before STARTTLS (or the only one)
  std::optional<Capabilities> caps_after_tls;
  // The latest EHLO answer: after STARTTLS, if it came to that.
  const Capabilities& latest_caps() const {
    return caps_after_tls ? *caps_after_tls : caps_before_tls;
  }
  bool tls_active = false;
  bool auth_attempted = false;
  std::optional<AuthMechanism> auth_mechanism_used;
  bool authenticated = false;
  std::optional<Reply> auth_refusal;  // e.g. 535 5.7.8
};

class SmtpClient {
 public:
  explicit SmtpClient(ClientConfig config);

  // --- inputs ---
  // The TCP connection is up (for kImplicit: the TLS handshake has completed too).
  void on_connected(Millis now);
  // Plaintext bytes from the server.
  void on_received(std::string_view data, Millis now);
  // The first `bytes` bytes of all output ever taken have reached the socket (call it before
  // on_connection_lost and on_timeout): a transaction whose end of data was written and never
  // answered is then a possible duplicate; one cut off before that is not.
  void on_written(uint64_t bytes);
  void on_tls_established(Millis now);
  void on_tls_failed(std::string reason, Millis now);
  // The peer closed or the socket failed.
  void on_connection_lost(std::string reason, Millis now);
  // Call when now >= deadline().
  void on_timeout(Millis now);

  // --- transactions ---
  // True when another envelope may be submitted now: the session is ready and fewer than
  // max_in_flight() transactions are unfinished (2 with PIPELINING, so the next MAIL/RCPT/DATA
  // can go out in the same write as the previous end of data; else 1).
  bool can_submit() const;
  void submit(Envelope envelope, Millis now);
  std::size_t in_flight() const;
  // Sends QUIT once in-flight transactions finish; then SessionClosed.
  void quit(Millis now);

  // --- outputs ---
  // Bytes to write (plaintext; the driver encrypts once TLS is active). The driver takes them all.
  std::string take_output();
  bool has_output() const;
  std::optional<ClientEvent> poll_event();
  // The replies recorded since the last call (empty unless ClientConfig::record_replies).
  std::vector<ReplyRecord> take_replies();
  // When the reply currently awaited must have arrived; nullopt when nothing is awaited.
  std::optional<Millis> deadline() const;
  // Since when the reply currently awaited has been awaited (its command sent, or the reply before
  // it received); nullopt when nothing is awaited.
  std::optional<Millis> waiting_since() const;

  const Observations& observations() const;
  const Capabilities& capabilities() const;  // the latest EHLO answer
  bool closed() const;

  ~SmtpClient();
  SmtpClient(SmtpClient&&) noexcept;
  SmtpClient& operator=(SmtpClient&&) noexcept;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace ringmta::protocol
