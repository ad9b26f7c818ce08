// SMTP reply model and incremental reply parser (RFC 5321 §4.2, RFC 3463 enhanced codes).
// Sans-I/O: bytes in, replies out. It may not read sockets or clocks, throw on bad input, or hold
// more than one reply's worth of unparsed bytes (kMaxLine, kMaxLines caps).
#include "protocol/smtp_reply.h"

namespace ringmta::protocol {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string printable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return out;
}

}  // namespace

// Parses "N.N.N" (class one digit 2/4/5, subject and detail 1-3 digits) at the start of text,
// followed by the end or a space. Returns the code and its length.
std::optional<EnhancedCode> parse_enhanced(std::string_view text, std::size_t* length) {
  if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.') {
    return std::nullopt;
  }
  EnhancedCode code;
  code.klass = text[0] - '0';
  std::size_t i = 2;
  int* parts[2] = {&code.subject, &code.detail};
  for (int p = 0; p < 2; ++p) {
    std::size_t start = i;
    int value = 0;
    while (i < text.size() && is_digit(text[i]) && i - start < 3)
      value = value * 10 + (text[i++] - '0');
    if (i == start) return std::nullopt;
    *parts[p] = value;
    if (p == 0) {
      if (i >= text.size() || text[i] != '.') return std::nullopt;
      ++i;
    }
  }
  if (i < text.size() && text[i] != ' ' && text[i] != '\t') return std::nullopt;
  if (length != nullptr) *length = i;
  return code;
}

std::string EnhancedCode::str() const {
  return std::to_string(klass) + "." + std::to_string(subject) + "." + std::to_string(detail);
}

std::string Reply::text() const {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i != 0) out += ' ';
    out += lines[i];
  }
  return out;
}

std::string Reply::summary() const {
  // The code, enhanced code and text all of one line (the first): a multiline reply whose last
  // line carries another enhanced code must not be quoted as a line no server sent.
  std::string out = std::to_string(code);
  if (lines.empty()) {
    if (enhanced) out += " " + enhanced->str();
    return out;
  }
  std::string_view first = lines.front();
  std::size_t n = 0;
  if (auto own = parse_enhanced(first, &n)) {
    out += " " + own->str();
    first.remove_prefix(n);
    while (!first.empty() && (first.front() == ' ' || first.front() == '\t'))
      first.remove_prefix(1);
  }
  if (!first.empty()) out += " " + printable(first);
  return out;
}

Reply Reply::make_local(int code, std::string_view enhanced, std::string text) {
  Reply reply;
  reply.code = code;
  reply.local = true;
  reply.enhanced = parse_enhanced(enhanced);
  if (enhanced.empty()) {
    reply.lines.push_back(std::move(text));
  } else {
    reply.lines.push_back(std::string(enhanced) + " " + text);
  }
  return reply;
}

bool ReplyParser::feed(std::string_view data) {
  if (failed()) return false;
  buf_.append(data);
  parse();
  return !failed();
}

void ReplyParser::fail(std::string why) {
  error_ = std::move(why);
  buf_.clear();
  pos_ = scan_ = 0;
  pending_lines_.clear();
  pending_bytes_ = 0;
}

void ReplyParser::parse() {
  while (!failed()) {
    std::size_t from = pos_ + scan_;
    std::size_t nl = buf_.find('\n', from);
    if (nl == std::string::npos) {
      scan_ = buf_.size() - pos_;
      // A partial line: kMaxLine of text plus a CR may still be waiting for its LF.
      if (scan_ > kMaxLine + 1) {
        fail("reply line longer than " + std::to_string(kMaxLine) + " bytes");
      }
      break;
    }
    std::string_view line(buf_.data() + pos_, nl - pos_);
    std::size_t raw = nl + 1 - pos_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = nl + 1;
    scan_ = 0;
    if (!parse_line(line, raw)) break;
  }
  if (failed()) return;
  // Compact once the parsed prefix dominates, so the buffer never keeps more than a reply's bytes.
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 4096 && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

bool ReplyParser::parse_line(std::string_view line, std::size_t raw_size) {
  if (line.size() > kMaxLine) {
    fail("reply line longer than " + std::to_string(kMaxLine) + " bytes");
    return false;
  }
  bool digits = line.size() >= 3 && is_digit(line[0]) && is_digit(line[1]) && is_digit(line[2]);
  char sep = line.size() > 3 ? line[3] : ' ';
  if (!digits || (sep != ' ' && sep != '-')) {
    fail("reply line does not start with a three-digit code: \"" + printable(line.substr(0, 64)) +
         "\"");
    return false;
  }
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (code < 200 || code > 599) {
    fail("reply code " + std::string(line.substr(0, 3)) + " is outside 2xx-5xx");
    return false;
  }
  if (pending_lines_.size() + 1 > kMaxLines) {
    fail("reply longer than " + std::to_string(kMaxLines) + " lines");
    return false;
  }
  if (!pending_lines_.empty() && code != pending_code_) {
    // RFC 5321 §4.2.1: every line of a multiline reply carries the same code. Which one would
    // decide is anyone's guess (a "250-" then "354 " must not pass for either), so none does.
    fail("multiline reply with inconsistent codes: " + std::to_string(pending_code_) + " then " +
         std::to_string(code));
    return false;
  }
  pending_code_ = code;
  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
  pending_lines_.emplace_back(text);
  pending_bytes_ += raw_size;
  if (sep == '-') return true;
  Reply reply;
  reply.code = code;  // the same on every line (checked above)
  reply.enhanced = parse_enhanced(text);
  reply.lines = std::move(pending_lines_);
  pending_lines_.clear();
  ready_.push_back(std::move(reply));
  ready_bytes_.push_back(pending_bytes_);
  pending_bytes_ = 0;
  return true;
}

std::optional<Reply> ReplyParser::next() {
  if (ready_pos_ >= ready_.size()) return std::nullopt;
  Reply reply = std::move(ready_[ready_pos_++]);
  if (ready_pos_ == ready_.size()) {
    ready_.clear();
    ready_bytes_.clear();
    ready_pos_ = 0;
  }
  return reply;
}

std::size_t ReplyParser::discard_buffered() {
  std::size_t dropped = buffered();
  for (std::size_t i = ready_pos_; i < ready_bytes_.size(); ++i) dropped += ready_bytes_[i];
  ready_.clear();
  ready_bytes_.clear();
  ready_pos_ = 0;
  buf_.clear();
  pos_ = scan_ = 0;
  pending_lines_.clear();
  pending_bytes_ = 0;
  error_.clear();  // whatever was wrong was in the dropped bytes
  return dropped;
}

std::size_t ReplyParser::buffered() const {
  return buf_.size() - pos_ + pending_bytes_;
}

}  // namespace ringmta::protocol
