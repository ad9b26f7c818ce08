// SmtpServerSession implementation: command parsing, reply texts and the DATA body scanner.
// It may not allocate per byte, use regexes, or keep more input than one command line.
#include "loadgen/smtp_server.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "protocol/smtp_arguments.h"
#include "util/strings.h"

namespace ringmta::loadgen {
namespace {

void append_number(std::string& s, uint64_t v, int base) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, base);
  (void)ec;
  s.append(buf, end);
}

}  // namespace

SmtpServerSession::SmtpServerSession(ServerConfig config) : config_(std::move(config)) {
  // Scramble the id so that consecutive sessions do not walk shifted copies of one sequence.
  uint64_t z = config_.session_id + 0x2545f4914f6cdd1dULL;
  z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdULL;
  z = (z ^ (z >> 33)) * 0xc4ceb9fe1a85ec53ULL;
  rng_ = z ^ (z >> 33);
  out_.reserve(256);
  out_.append("220 ").append(config_.hostname).append(" ESMTP ringmta-sink\r\n");
}

void SmtpServerSession::move_output_to(std::string& dst) {
  if (dst.empty()) {
    dst.swap(out_);
  } else {
    dst.append(out_);
  }
  out_.clear();
}

void SmtpServerSession::reply(std::string_view text) {
  if (scripted_ != nullptr && scripted_->delay_ms > delay_ms_) delay_ms_ = scripted_->delay_ms;
  out_.append(text);
  out_.append("\r\n", 2);
}

void SmtpServerSession::feed(std::string_view bytes) {
  const char* p = bytes.data();
  const char* end = p + bytes.size();
  while (p < end && !closed_ && !silent_ && !starttls_pending_) {
    if (mode_ == Mode::kData) {
      p = scan_data(p, end);
      continue;
    }
    if (mode_ == Mode::kBdat) {
      auto n = static_cast<uint64_t>(end - p);
      uint64_t take = n < bdat_left_ ? n : bdat_left_;
      p += take;
      bdat_left_ -= take;
      if (!bdat_refused_) {
        body_bytes_ += take;
        if (config_.keep_bodies) body_.append(p - take, take);
      }
      if (bdat_left_ == 0) end_bdat_chunk();
      continue;
    }
    const auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (mode_ == Mode::kDiscardLine) {
      if (nl == nullptr) return;
      p = nl + 1;
      mode_ = Mode::kCommand;
      reply("500 5.5.6 Line too long");
      continue;
    }
    // A line may end in a CR that is not counted, hence the + 1.
    constexpr std::size_t kMaxHeld = kMaxLineLength + 1;
    if (nl == nullptr) {  // partial line: hold it, within bounds
      auto n = static_cast<std::size_t>(end - p);
      if (line_.size() + n > kMaxHeld) {
        line_.clear();
        mode_ = Mode::kDiscardLine;
      } else {
        line_.append(p, n);
      }
      return;
    }
    auto n = static_cast<std::size_t>(nl - p);
    const char* line_start = p;
    p = nl + 1;
    if (line_.size() + n > kMaxHeld) {
      line_.clear();
      reply("500 5.5.6 Line too long");
      continue;
    }
    std::string_view line(line_start, n);
    if (!line_.empty()) {
      line_.append(line_start, n);
      line = line_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxLineLength) {
      reply("500 5.5.6 Line too long");
    } else {
      handle_line(line);
    }
    line_.clear();
  }
}

void SmtpServerSession::handle_line(std::string_view line) {
  std::size_t space = line.find(' ');
  std::string_view verb = line.substr(0, space);
  std::string_view arg =
      space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  if (iequals(verb, "STARTTLS")) {
    if (!trim(arg).empty()) return reply("501 5.5.4 Syntax: STARTTLS");
    return on_starttls();
  }
  if (verb.size() != 4) {
    reply("500 5.5.2 Error: command not recognized");
    return;
  }
  // Dispatch on the lower-cased verb as one 32-bit key.
  uint32_t key = 0;
  for (char c : verb) key = (key << 8) | static_cast<unsigned char>(lower(c));
  constexpr auto k = [](const char(&s)[5]) {
    return (uint32_t(uint8_t(s[0])) << 24) | (uint32_t(uint8_t(s[1])) << 16) |
           (uint32_t(uint8_t(s[2])) << 8) | uint32_t(uint8_t(s[3]));
  };
  switch (key) {
    case k("ehlo"):
      on_ehlo(arg, true);
      return;
    case k("helo"):
      on_ehlo(arg, false);
      return;
    case k("mail"):
      on_mail(arg);
      return;
    case k("rcpt"):
      on_rcpt(arg);
      return;
    case k("data"):
      on_data(arg);
      return;
    case k("bdat"):
      on_bdat(arg);
      return;
    case k("rset"):
      reset_transaction();
      reply("250 2.0.0 Ok");
      return;
    case k("noop"):
      reply("250 2.0.0 Ok");
      return;
    case k("vrfy"):
      reply("252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
      return;
    case k("quit"):
      reply("221 2.0.0 Bye");
      closed_ = true;
      return;
    default:
      reply("500 5.5.2 Error: command not recognized");
      return;
  }
}

void SmtpServerSession::on_starttls() {
  if (!config_.offer_starttls) return reply("502 5.5.1 Error: command not implemented");
  if (tls_active_) return reply("554 5.5.1 Error: TLS already active");
  if (!greeted_) return reply("503 5.5.1 Error: send EHLO first");
  reply("220 2.0.0 Ready to start TLS");
  starttls_pending_ = true;
}

void SmtpServerSession::tls_started() {
  starttls_pending_ = false;
  tls_active_ = true;
  greeted_ = false;
  reset_transaction();
  line_.clear();
  mode_ = Mode::kCommand;
}

void SmtpServerSession::on_ehlo(std::string_view arg, bool extended) {
  if (trim(arg).empty()) {
    reply(extended ? "501 5.5.4 Syntax: EHLO hostname" : "501 5.5.4 Syntax: HELO hostname");
    return;
  }
  reset_transaction();
  greeted_ = true;
  if (!extended) {
    out_.append("250 ").append(config_.hostname).append("\r\n");
    return;
  }
  out_.append("250-").append(config_.hostname).append("\r\n");
  out_.append(
      "250-PIPELINING\r\n"
      "250-8BITMIME\r\n"
      "250-SIZE ");
  append_number(out_, config_.max_message_size, 10);
  out_.append("\r\n");
  if (config_.offer_starttls && !tls_active_) out_.append("250-STARTTLS\r\n");
  out_.append(
      "250-ENHANCEDSTATUSCODES\r\n"
      "250-CHUNKING\r\n"
      "250 SMTPUTF8\r\n");
}

void SmtpServerSession::on_mail(std::string_view arg) {
  if (!greeted_) return reply("503 5.5.1 Error: send HELO/EHLO first");
  if (in_transaction_) return reply("503 5.5.1 Error: nested MAIL command");
  if (scripted_ != nullptr && scripted_->close_after > 0 && messages_ >= scripted_->close_after) {
    ++refusals_.temporary;
    reply("421 4.7.0 Too many messages on this connection, closing (sink script)");
    closed_ = true;
    return;
  }
  if (!istarts_with(arg, "FROM:")) return reply("501 5.5.4 Syntax: MAIL FROM:<address>");
  protocol::SmtpPath path;
  if (!protocol::parse_smtp_path(arg.substr(5), path)) {
    return reply("501 5.1.7 Bad sender address syntax");
  }
  if (const auto verdict = protocol::check_mail_params(path.params, config_.max_message_size,
                                                       /*accept_auth=*/false);
      !verdict.reply.empty()) {
    return reply(verdict.reply);
  }
  in_transaction_ = true;
  mail_from_.assign(path.address);
  recipients_.clear();
  reply("250 2.1.0 Ok");
}

void SmtpServerSession::on_rcpt(std::string_view arg) {
  if (!in_transaction_) return reply("503 5.5.1 Error: need MAIL command");
  if (!istarts_with(arg, "TO:")) return reply("501 5.5.4 Syntax: RCPT TO:<address>");
  protocol::SmtpPath path;
  if (!protocol::parse_smtp_path(arg.substr(3), path) || path.address.empty()) {
    return reply("501 5.1.3 Bad recipient address syntax");
  }
  if (!path.params.empty()) return reply("555 5.5.4 Unsupported RCPT parameter");
  const std::string_view address = path.address;
  if (recipients_.size() >= config_.max_recipients) {
    return reply("452 4.5.3 Error: too many recipients");
  }
  if (config_.script != nullptr) {
    std::size_t at = address.rfind('@');
    const DomainScript* s =
        config_.script->find(at == std::string_view::npos ? "" : address.substr(at + 1));
    if (s != nullptr) {
      scripted_ = s;
      if (s->never_answer) {
        silent_ = true;
        return;
      }
      if (roll(s->rcpt_421)) {
        ++refusals_.temporary;
        reply("421 4.7.0 Too many connections from your host, slow down (sink script)");
        closed_ = true;
        return;
      }
      if (roll(s->rcpt_5xx * 100 / std::max(1e-9, 100 - s->rcpt_421))) {
        ++refusals_.permanent;
        return reply("550 5.1.1 Recipient address rejected: User unknown (sink script)");
      }
      if (roll(s->rcpt_4xx * 100 / std::max(1e-9, 100 - s->rcpt_421 - s->rcpt_5xx))) {
        ++refusals_.temporary;
        return reply("451 4.7.1 Recipient address rejected: try again later (sink script)");
      }
      txn_script_ = s;  // its message may still be refused after the dot
    }
  }
  recipients_.emplace_back(address);
  reply("250 2.1.5 Ok");
}

bool SmtpServerSession::roll(double percent) {
  if (percent <= 0) return false;
  // splitmix64: cheap, and different per session (seeded by the session id).
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * (100.0 / 9007199254740992.0) < percent;
}

void SmtpServerSession::on_bdat(std::string_view arg) {
  if (!protocol::parse_bdat(arg, bdat_left_, bdat_last_)) {
    return reply("501 5.5.4 Syntax: BDAT chunk-size [LAST]");
  }
  // Refused chunks are still read (RFC 3030 §2: the octets follow the command regardless).
  bdat_refused_ = !in_transaction_ || recipients_.empty();
  if (!bdat_refused_) {
    if (!bdat_started_) {
      body_bytes_ = 0;
      body_.clear();
    }
    bdat_started_ = true;
  }
  mode_ = Mode::kBdat;
  if (bdat_left_ == 0) end_bdat_chunk();
}

void SmtpServerSession::end_bdat_chunk() {
  mode_ = Mode::kCommand;
  if (bdat_refused_) {
    bdat_refused_ = false;
    if (!in_transaction_) return reply("503 5.5.1 Error: need MAIL command");
    return reply("554 5.5.1 Error: no valid recipients");
  }
  if (body_bytes_ > config_.max_message_size) {
    reply("552 5.3.4 Message size exceeds fixed maximum message size");
    reset_transaction();
    return;
  }
  if (bdat_last_) return finish_data();
  out_.append("250 2.0.0 Ok: ");
  append_number(out_, body_bytes_, 10);
  out_.append(" octets received\r\n");
}

void SmtpServerSession::on_data(std::string_view arg) {
  if (!trim(arg).empty()) return reply("501 5.5.4 Syntax: DATA");
  if (!in_transaction_) return reply("503 5.5.1 Error: need MAIL command");
  if (bdat_started_) return reply("503 5.5.1 Error: BDAT in progress, DATA not allowed");
  if (recipients_.empty()) return reply("554 5.5.1 Error: no valid recipients");
  mode_ = Mode::kData;
  data_state_ = DataState::kLineStart;
  body_bytes_ = 0;
  body_.clear();
  reply("354 End data with <CR><LF>.<CR><LF>");
}

// Counts body octets up to CRLF "." CRLF, removing stuffed dots. Returns where it stopped: at
// end, or just after the terminating ".\r\n" (then the session is back in command mode).
const char* SmtpServerSession::scan_data(const char* p, const char* end) {
  uint64_t bytes = body_bytes_;
  DataState st = data_state_;
  while (p < end) {
    switch (st) {
      case DataState::kMid: {
        const auto* cr =
            static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(end - p)));
        const char* upto = cr == nullptr ? end : cr + 1;
        if (config_.keep_bodies) body_.append(p, upto);
        if (cr == nullptr) {
          bytes += static_cast<uint64_t>(end - p);
          p = end;
        } else {
          bytes += static_cast<uint64_t>(cr - p) + 1;
          p = cr + 1;
          st = DataState::kMidCr;
        }
        break;
      }
      case DataState::kMidCr: {
        char c = *p++;
        ++bytes;
        if (config_.keep_bodies) body_.push_back(c);
        st = c == '\n' ? DataState::kLineStart : c == '\r' ? DataState::kMidCr : DataState::kMid;
        break;
      }
      case DataState::kLineStart:
        if (*p == '.') {
          ++p;  // not counted: a stuffed dot, or the start of the terminator
          st = DataState::kDot;
        } else {
          st = DataState::kMid;
        }
        break;
      case DataState::kDot:
        if (*p == '\r') {
          ++p;
          st = DataState::kDotCr;
        } else {
          st = DataState::kMid;  // the dot was stuffing; the rest of the line is content
        }
        break;
      case DataState::kDotCr:
        if (*p == '\n') {
          body_bytes_ = bytes;
          finish_data();
          return p + 1;
        }
        ++bytes;  // ".\r" not followed by LF: the CR is content; look at *p as after a CR
        if (config_.keep_bodies) body_.push_back('\r');
        st = DataState::kMidCr;
        break;
    }
  }
  body_bytes_ = bytes;
  data_state_ = st;
  return p;
}

void SmtpServerSession::finish_data() {
  mode_ = Mode::kCommand;
  if (body_bytes_ > config_.max_message_size) {
    reply("552 5.3.4 Message size exceeds fixed maximum message size");
    reset_transaction();
    return;
  }
  if (scripted_ != nullptr && scripted_->delay_ms > delay_ms_) {
    delay_ms_ = scripted_->delay_ms;  // for the 250 below
  }
  if (txn_script_ != nullptr) {
    if (roll(txn_script_->data_5xx)) {
      ++refusals_.permanent;
      reply("554 5.7.1 Message rejected as spam (sink script)");
      reset_transaction();
      return;
    }
    if (roll(txn_script_->data_4xx * 100 / std::max(1e-9, 100 - txn_script_->data_5xx))) {
      ++refusals_.temporary;
      reply("451 4.3.0 Temporary failure after data, try again later (sink script)");
      reset_transaction();
      return;
    }
  }
  MessageAccepted& m = events_.emplace_back();
  append_number(m.queue_id, config_.session_id, 16);
  m.queue_id.push_back('.');
  append_number(m.queue_id, ++messages_, 10);
  m.mail_from = std::move(mail_from_);
  m.recipients = std::move(recipients_);
  m.body_bytes = body_bytes_;
  m.body = std::move(body_);
  body_.clear();
  out_.append("250 2.0.0 queued as ").append(m.queue_id).append("\r\n");
  reset_transaction();
}

void SmtpServerSession::reset_transaction() {
  in_transaction_ = false;
  txn_script_ = nullptr;
  mail_from_.clear();
  recipients_.clear();
  body_bytes_ = 0;
  body_.clear();
  bdat_started_ = false;
}

}  // namespace ringmta::loadgen
