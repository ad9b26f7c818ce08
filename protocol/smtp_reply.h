// SMTP reply model and the incremental reply parser (RFC 5321 §4.2, enhanced codes RFC 3463/2034).
// Sans-I/O: it is fed bytes and yields complete replies; it never touches a socket or a clock.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringmta::protocol {

struct EnhancedCode {
  int klass = 0;  // 2, 4 or 5
  int subject = 0;
  int detail = 0;
  std::string str() const;  // "5.7.1"
  bool operator==(const EnhancedCode&) const = default;
};

// Parses "N.N.N" (class 2/4/5, subject and detail 1-3 digits) at the start of text, followed by
// the end or whitespace; length (if given) receives its length.
std::optional<EnhancedCode> parse_enhanced(std::string_view text, std::size_t* length = nullptr);

struct Reply {
  int code = 0;  // three-digit code (the same on every line: RFC 5321 §4.2.1)
  std::optional<EnhancedCode> enhanced;  // from the last line, if it carries one
  std::vector<std::string> lines;        // text of each line after "NNN-" / "NNN ", without CRLF
  bool local =
      false;  // synthesised by ringmta (timeout, connection lost, ...), not said by the server

  // A positive completion (2xx). A 3xx is an intermediate reply: it completes nothing, and only
  // where the client awaits one (354 to DATA, 334 in AUTH) is it not the server's protocol error.
  bool positive() const { return code >= 200 && code < 300; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500; }
  std::string text() const;  // lines joined by " "
  std::string summary()
      const;  // "550 5.7.1 Relay access denied" (first line of text, code, enhanced)
  // A synthesised reply, e.g. local(451, "4.4.2", "connection lost after DATA").
  static Reply make_local(int code, std::string_view enhanced, std::string text);
};

// Feed bytes; take complete replies. Handles replies split across reads and several replies in one
// read (pipelining). Caps: a line longer than kMaxLine or a reply of more than kMaxLines lines is a
// protocol error (the session must abort), never unbounded memory; so is a multiline reply whose
// lines carry different codes.
class ReplyParser {
 public:
  static constexpr std::size_t kMaxLine = 4096;  // RFC says 512; real servers exceed it a little
  static constexpr std::size_t kMaxLines = 200;

  // Appends data. Returns false once the stream is malformed (error() says why); after that
  // the parser stays failed.
  bool feed(std::string_view data);
  // The next complete reply, if any.
  std::optional<Reply> next();
  // Discards every byte buffered after the replies already taken (STARTTLS injection defence).
  // Returns how many bytes were dropped. An error caused by those bytes is dropped with them.
  std::size_t discard_buffered();
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  std::size_t buffered() const;

 private:
  void parse();
  bool parse_line(std::string_view line, std::size_t raw_size);
  void fail(std::string why);

  std::string buf_;  // unparsed bytes start at pos_
  std::size_t pos_ = 0;
  std::size_t scan_ = 0;                    // bytes after pos_ already searched for LF
  std::vector<std::string> pending_lines_;  // continuation lines of the reply being read
  int pending_code_ = 0;                    // their code
  std::size_t pending_bytes_ = 0;           // their size on the wire
  std::vector<Reply> ready_;
  std::vector<std::size_t> ready_bytes_;  // wire size of each ready reply
  std::size_t ready_pos_ = 0;
  std::string error_;
};

}  // namespace ringmta::protocol
