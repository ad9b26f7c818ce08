// SmtpServerSession: the server side of one SMTP connection as a sans-I/O state machine, used by
// `ringmta sink` (the demo, test and benchmark server that accepts and counts every message).
//
// The driver feeds received bytes, then takes the reply bytes and MessageAccepted events. Every
// complete command in the input is answered, in order, into one output buffer (RFC 2920
// pipelining). DATA bodies are scanned in place with memchr: only CRLF "." CRLF ends them (a bare
// LF "." never does), stuffed dots are removed and the remaining octets counted. BDAT chunks
// (RFC 3030 CHUNKING) are counted by their announced size, then answered.
//
// It may not: do I/O, read a clock, keep message bodies (unless keep_bodies asks, for `sink
// --record-messages`), or buffer more than one command line (kMaxLineLength) of input. Longer lines
// are discarded up to their LF and answered 500 5.5.6.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/sink_script.h"

namespace ringmta::loadgen {

struct ServerConfig {
  std::string hostname = "localhost";     // greeting and EHLO name
  std::size_t max_recipients = 1000;      // per transaction; more get 452 4.5.3
  uint64_t max_message_size = 104857600;  // advertised as SIZE; larger bodies get 552 5.3.4
  uint64_t session_id = 0;                // makes queue ids unique across sessions
  const SinkScript* script = nullptr;     // misbehaviour per recipient domain; must outlive us
  bool offer_starttls = false;            // advertise STARTTLS (the driver has a certificate)
  bool keep_bodies = false;               // MessageAccepted carries the message itself
};

// Replies refused by a script, for the sink's counters.
struct ScriptedRefusals {
  uint64_t temporary = 0;  // 4xx (including 421)
  uint64_t permanent = 0;  // 5xx
};

// One message answered "250 2.0.0 queued as <queue_id>".
struct MessageAccepted {
  std::string queue_id;
  std::string mail_from;                // without angle brackets; empty for the null sender <>
  std::vector<std::string> recipients;  // without angle brackets, in RCPT order
  uint64_t body_bytes = 0;              // after dot-unstuffing; excludes the terminating ".\r\n"
  std::string body;                     // the message as received, unstuffed (keep_bodies only)
};

class SmtpServerSession {
 public:
  // Longest accepted command line, in octets, not counting its line end.
  static constexpr std::size_t kMaxLineLength = 1000;

  // Queues the 220 greeting.
  explicit SmtpServerSession(ServerConfig config = {});

  // Processes received bytes: every complete command (or body chunk) is answered in output().
  // Ignored once closed().
  void feed(std::string_view bytes);

  // Reply bytes not yet taken.
  std::string_view output() const { return out_; }
  void clear_output() { out_.clear(); }
  // Appends the output to dst (swapping buffers when dst is empty) and clears it.
  void move_output_to(std::string& dst);

  // Messages accepted since the last clear_events().
  std::vector<MessageAccepted>& events() { return events_; }
  void clear_events() { events_.clear(); }

  // QUIT was answered: send output(), then close the connection. Further input is ignored.
  bool closed() const { return closed_; }
  // STARTTLS was answered 220: the driver sends output() in clear text, starts the TLS handshake
  // and calls tls_started(). Input after the STARTTLS line (pipelined in clear text) is dropped.
  bool starttls_requested() const { return starttls_pending_; }
  // TLS is up: the session starts over (RFC 3207 §4.2: forget EHLO and any transaction).
  void tls_started();
  // Inside a DATA body.
  bool in_data() const { return mode_ == Mode::kData; }
  // Input bytes held between feeds (a partial command line): at most kMaxLineLength + 1.
  std::size_t buffered_bytes() const { return line_.size(); }

  // Scripts: how long the driver must hold the output taken now (0: send at once); reset on read.
  uint32_t take_delay_ms() {
    uint32_t d = delay_ms_;
    delay_ms_ = 0;
    return d;
  }
  // A script said never to answer: the driver keeps the connection open and sends nothing more.
  bool silent() const { return silent_; }
  ScriptedRefusals take_refusals() {
    ScriptedRefusals r = refusals_;
    refusals_ = {};
    return r;
  }

 private:
  enum class Mode { kCommand, kDiscardLine, kData, kBdat };
  // Position inside a DATA body.
  enum class DataState { kLineStart, kMid, kMidCr, kDot, kDotCr };

  void handle_line(std::string_view line);
  void on_ehlo(std::string_view arg, bool extended);
  void on_mail(std::string_view arg);
  void on_rcpt(std::string_view arg);
  void on_data(std::string_view arg);
  void on_starttls();
  void on_bdat(std::string_view arg);
  void end_bdat_chunk();
  const char* scan_data(const char* p, const char* end);
  void finish_data();
  void reset_transaction();
  void reply(std::string_view text);  // appends text and CRLF
  bool roll(double percent);          // true with that probability (seeded per session)

  ServerConfig config_;
  std::string out_;
  std::string line_;  // partial command line carried between feeds
  std::vector<MessageAccepted> events_;
  Mode mode_ = Mode::kCommand;
  DataState data_state_ = DataState::kLineStart;
  bool greeted_ = false;
  bool in_transaction_ = false;
  bool closed_ = false;
  bool starttls_pending_ = false;
  uint64_t bdat_left_ = 0;     // octets of the current chunk still to come
  bool bdat_last_ = false;     // the current chunk is the LAST one
  bool bdat_refused_ = false;  // the current chunk is read and then refused (no transaction)
  bool bdat_started_ = false;  // this transaction's body comes in BDAT chunks
  bool tls_active_ = false;
  std::string mail_from_;
  std::vector<std::string> recipients_;
  uint64_t body_bytes_ = 0;
  std::string body_;  // keep_bodies only
  uint64_t messages_ = 0;
  const DomainScript* scripted_ = nullptr;    // the connection's: last scripted RCPT domain's
  const DomainScript* txn_script_ = nullptr;  // this transaction's accepted scripted RCPT's
  uint32_t delay_ms_ = 0;
  bool silent_ = false;
  ScriptedRefusals refusals_;
  uint64_t rng_ = 0;
};

}  // namespace ringmta::loadgen
