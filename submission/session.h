// SubmissionSession: the server side of one SMTP submission connection (RFC 6409) as a sans-I/O
// state machine: the driver (submission/server) feeds received bytes with the time, sends the
// reply bytes, and hands each complete message to the queue; the session only answers.
//
//   greeting -> EHLO -> [STARTTLS -> EHLO] -> [AUTH] -> MAIL -> RCPT... -> DATA|BDAT -> committing
//
// Policy: a client may submit only once authenticated (AUTH PLAIN or LOGIN, offered only over
// TLS, against the UserDirectory) or when it connects from a relay network; anyone else gets
// "530 5.7.0 Authentication required" at MAIL. An authenticated user may use only its allowed
// envelope Senders, within its message rate and recipient limit. Addresses are checked as the
// queue will hold them (message/address), and each message as delivery will read it
// (message/template), so what is accepted can be delivered.
//
// Durability: after the end of a message the session answers nothing more (further pipelined
// input is left unconsumed) until the driver reports the commit: committed() writes the 250,
// commit_failed() a 451. It never says 250 for a message the queue does not hold.
//
// It may not: do I/O, read a clock, buffer more than one command line of input between feeds, or
// keep more than max_message_size octets of a body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "scheduler/token_bucket.h"
#include "submission/users.h"
#include "util/time.h"

namespace ringmta::submission {

// Per-user message rates, shared by the sessions of one listener thread.
class UserRates {
 public:
  // Takes one message from user's bucket; false when the rate is spent.
  bool try_take(const SubmissionUser& user, Millis now);

 private:
  std::unordered_map<std::string, scheduler::TokenBucket> buckets_;
};

// Whether an address is on the queue's suppression list (the driver asks the queue): a submitted
// recipient on it is refused at RCPT, so the application hears of it at once.
class SuppressionCheck {
 public:
  virtual ~SuppressionCheck() = default;
  // nullopt: the list could not be read (the recipient is then refused with a 451).
  virtual std::optional<bool> suppressed(std::string_view address) = 0;
};

struct SessionConfig {
  std::string hostname = "localhost";        // greeting, EHLO, Received: and added Message-IDs
  uint64_t max_message_size = 52428800;      // advertised as SIZE; larger messages get 552 5.3.4
  std::size_t max_recipients = 1000;         // per message unless the user's limit is lower
  bool starttls_offered = false;             // a certificate is configured
  bool implicit_tls = false;                 // the connection is TLS from the start (port 465)
  bool relay_client = false;                 // the client's address is in --relay-networks
  std::string client_address;                // "192.0.2.1", for Received:
  std::string session_id;                    // unique per connection, for Received: and ids
  UserDirectory* users = nullptr;            // null or empty: AUTH is not offered
  UserRates* rates = nullptr;                // needed when users is set
  SuppressionCheck* suppressions = nullptr;  // null: not checked
  std::string campaign_prefix = "smtp-";     // campaign of a user's messages: prefix + user
  std::string network_campaign = "smtp";     // campaign of relay-network clients' messages
};

// A message ready to be queued.
struct SubmittedMessage {
  std::string sender;                   // MAIL FROM, without brackets ("" = null sender)
  std::vector<std::string> recipients;  // validated; domains lower-cased
  std::string message;                  // Received: (+ Date/Message-ID if missing) + as received
  std::string user;                     // "" for a relay-network client
  std::string campaign;
};

// Something an operator should hear of (the service logs it): a failed login, a refused relay
// attempt. At most one per event; never a password.
struct SessionNote {
  std::string kind;    // "auth_failed", "auth_required"
  std::string detail;  // the user name tried, or the sender
};

class SubmissionSession {
 public:
  static constexpr std::size_t kMaxLineLength = 1000;  // RFC 5321 §4.5.3.1.4 (without CRLF)
  static constexpr int kMaxAuthFailures = 3;
  static constexpr int kMaxErrors = 20;  // bad commands before the session is closed

  explicit SubmissionSession(SessionConfig config);  // queues the 220 greeting

  // Processes input; returns how many bytes were consumed. The rest (a partial command line, or
  // everything after a message's end while it is being committed) must be fed again, with more.
  std::size_t feed(std::string_view bytes, Millis now);

  std::string_view output() const { return out_; }
  void clear_output() { out_.clear(); }

  // A message ended: take it, queue it, then call committed() or commit_failed().
  bool has_message() const { return state_ == State::kCommitting && !message_taken_; }
  SubmittedMessage take_message();
  bool committing() const { return state_ == State::kCommitting; }
  void committed(std::string_view queue_id);
  void commit_failed(std::string_view reason);

  // QUIT was answered (or the session gave up): send output(), then close.
  bool closed() const { return state_ == State::kClosed; }
  // STARTTLS was answered 220: send output() in clear text, start TLS, call tls_started().
  bool starttls_requested() const { return state_ == State::kStartTls; }
  void tls_started();
  // The idle timeout the driver should apply now: longer inside a message body.
  bool in_body() const { return state_ == State::kData || state_ == State::kBdat; }
  const std::string& user() const { return user_; }
  std::vector<SessionNote>& notes() { return notes_; }

 private:
  enum class State {
    kCommand,     // reading command lines
    kAuthPlain,   // waiting for the PLAIN response line
    kAuthUser,    // LOGIN: waiting for the user name
    kAuthPass,    // LOGIN: waiting for the password
    kData,        // a DATA body
    kBdat,        // a BDAT chunk's octets
    kCommitting,  // the message is being queued; input waits
    kStartTls,    // 220 to STARTTLS sent; input waits for the TLS layer
    kClosed,
  };

  std::size_t feed_line(std::string_view bytes);
  std::size_t feed_data(std::string_view bytes);
  std::size_t feed_bdat(std::string_view bytes);
  void handle_command(std::string_view line);
  void handle_auth_line(std::string_view line);
  void on_ehlo(std::string_view arg, bool extended);
  void on_auth(std::string_view arg);
  void on_mail(std::string_view arg);
  void on_rcpt(std::string_view arg);
  void on_data(std::string_view arg);
  void on_bdat(std::string_view arg);
  void on_starttls(std::string_view arg);
  void finish_auth(std::string_view user, std::string_view password);
  void finish_message();
  void reset_transaction();
  void reply(std::string_view text);
  void error_reply(std::string_view text);  // a client error: counted towards kMaxErrors
  bool auth_offered() const;
  std::string received_header() const;

  SessionConfig config_;
  std::string out_;
  State state_ = State::kCommand;
  bool discarding_ = false;  // inside an over-long line, up to its LF
  Millis now_ = 0;
  std::string helo_;
  bool extended_ = false;
  bool tls_active_ = false;
  std::string user_;  // authenticated user
  const SubmissionUser* account_ = nullptr;
  std::string login_user_;  // AUTH LOGIN's first answer
  int auth_failures_ = 0;
  int errors_ = 0;
  uint64_t messages_ = 0;
  // The transaction.
  bool in_transaction_ = false;
  bool smtputf8_ = false;  // the transaction's MAIL FROM carried SMTPUTF8
  std::string sender_;
  std::vector<std::string> recipients_;
  std::string body_;      // DATA: raw (stuffed) octets after a "\r\n" sentinel; BDAT: octets
  bool too_big_ = false;  // body_ passed max_message_size: read on, then refuse
  bool bdat_ = false;     // this transaction's body comes in BDAT chunks
  uint64_t bdat_left_ = 0;
  bool bdat_last_ = false;
  bool bdat_refused_ = false;  // the chunk is read and refused (no transaction or recipients)
  uint64_t body_octets_ = 0;
  SubmittedMessage message_;
  bool message_taken_ = false;
  std::vector<SessionNote> notes_;
};

}  // namespace ringmta::submission
