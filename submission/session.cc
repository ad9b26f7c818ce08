// SubmissionSession implementation: line framing, the commands, AUTH, the body readers (DATA with
// its "\r\n.\r\n" end and dot-unstuffing, BDAT by count) and the headers added to a message.
// It may not allocate per byte, or answer before a message is committed.
#include "submission/session.h"

#include <algorithm>
#include <charconv>

#include "message/address.h"
#include "message/template.h"
#include "protocol/smtp_arguments.h"
#include "util/base64.h"
#include "util/strings.h"

namespace ringmta::submission {
namespace {

constexpr std::string_view kDataEnd = "\r\n.\r\n";

// Text safe inside a Received: field or a reply: printable ASCII only (spaces too with words),
// bounded.
std::string printable(std::string_view s, std::size_t max, bool words = false) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    const bool ok =
        words ? u >= 32 && u < 127 : u > 32 && u < 127 && c != '(' && c != ')' && c != ';';
    out.push_back(ok ? c : '_');
  }
  return out;
}

bool all_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// A campaign id from a user name: the characters campaign ids allow, others as '_'.
std::string campaign_of(std::string_view prefix, std::string_view user) {
  std::string out(prefix);
  for (char c : user) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    out.push_back(ok ? c : '_');
  }
  return out;
}

}  // namespace

bool UserRates::try_take(const SubmissionUser& user, Millis now) {
  if (user.rate.unlimited()) return true;
  auto it = buckets_.find(user.name);
  if (it == buckets_.end() || !(it->second.rate() == user.rate)) {
    // A whole period's messages may come at once; then they come at the rate.
    it = buckets_
             .insert_or_assign(user.name, scheduler::TokenBucket(user.rate, user.rate.count, now))
             .first;
  }
  return it->second.try_take(now);
}

SubmissionSession::SubmissionSession(SessionConfig config) : config_(std::move(config)) {
  tls_active_ = config_.implicit_tls;
  out_.append("220 ").append(config_.hostname).append(" ESMTP ringmta\r\n");
}

void SubmissionSession::reply(std::string_view text) {
  out_.append(text).append("\r\n");
}

void SubmissionSession::error_reply(std::string_view text) {
  if (++errors_ >= kMaxErrors) {
    reply("421 4.7.0 Too many errors on this connection, closing");
    state_ = State::kClosed;
    return;
  }
  reply(text);
}

bool SubmissionSession::auth_offered() const {
  return tls_active_ && config_.users != nullptr && !config_.users->empty();
}

std::size_t SubmissionSession::feed(std::string_view bytes, Millis now) {
  now_ = now;
  std::size_t used = 0;
  while (used < bytes.size()) {
    std::size_t n = 0;
    switch (state_) {
      case State::kCommand:
      case State::kAuthPlain:
      case State::kAuthUser:
      case State::kAuthPass:
        n = feed_line(bytes.substr(used));
        break;
      case State::kData:
        n = feed_data(bytes.substr(used));
        break;
      case State::kBdat:
        n = feed_bdat(bytes.substr(used));
        break;
      case State::kCommitting:
      case State::kStartTls:
      case State::kClosed:
        return used;
    }
    if (n == 0) break;  // a partial line: wait for the rest
    used += n;
  }
  return used;
}

std::size_t SubmissionSession::feed_line(std::string_view bytes) {
  const std::size_t nl = bytes.find('\n');
  if (nl == std::string_view::npos) {
    // A line may end in a CR that is not counted, hence the + 1.
    if (discarding_ || bytes.size() > kMaxLineLength + 1) {
      discarding_ = true;
      return bytes.size();
    }
    return 0;
  }
  std::string_view line = bytes.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (discarding_ || line.size() > kMaxLineLength) {
    discarding_ = false;
    if (state_ != State::kCommand) state_ = State::kCommand;  // an AUTH exchange is abandoned
    error_reply("500 5.5.6 Line too long");
    return nl + 1;
  }
  if (state_ == State::kCommand) {
    handle_command(line);
  } else {
    handle_auth_line(line);
  }
  return nl + 1;
}

void SubmissionSession::handle_command(std::string_view line) {
  const std::size_t space = line.find(' ');
  const std::string_view verb = line.substr(0, space);
  const std::string_view arg =
      space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  if (iequals(verb, "EHLO")) return on_ehlo(arg, true);
  if (iequals(verb, "HELO")) return on_ehlo(arg, false);
  if (iequals(verb, "MAIL")) return on_mail(arg);
  if (iequals(verb, "RCPT")) return on_rcpt(arg);
  if (iequals(verb, "DATA")) return on_data(arg);
  if (iequals(verb, "BDAT")) return on_bdat(arg);
  if (iequals(verb, "AUTH")) return on_auth(arg);
  if (iequals(verb, "STARTTLS")) return on_starttls(arg);
  if (iequals(verb, "RSET")) {
    reset_transaction();
    return reply("250 2.0.0 Ok");
  }
  if (iequals(verb, "NOOP")) return reply("250 2.0.0 Ok");
  if (iequals(verb, "QUIT")) {
    reply("221 2.0.0 Bye");
    state_ = State::kClosed;
    return;
  }
  if (iequals(verb, "VRFY")) return reply("252 2.5.2 Cannot VRFY user");
  if (iequals(verb, "HELP")) return reply("214 2.0.0 ringmta submission (RFC 6409)");
  error_reply("500 5.5.2 Error: command not recognized");
}

void SubmissionSession::on_ehlo(std::string_view arg, bool extended) {
  arg = trim(arg);
  if (arg.empty()) {
    return error_reply(extended ? "501 5.5.4 Syntax: EHLO hostname"
                                : "501 5.5.4 Syntax: HELO hostname");
  }
  reset_transaction();
  helo_ = printable(arg, 255);
  extended_ = extended;
  if (!extended) {
    out_.append("250 ").append(config_.hostname).append("\r\n");
    return;
  }
  std::vector<std::string> lines{config_.hostname, "PIPELINING",
                                 "SIZE " + std::to_string(config_.max_message_size), "8BITMIME"};
  if (config_.starttls_offered && !tls_active_) lines.emplace_back("STARTTLS");
  if (auth_offered()) lines.emplace_back("AUTH PLAIN LOGIN");
  lines.emplace_back("ENHANCEDSTATUSCODES");
  lines.emplace_back("CHUNKING");
  lines.emplace_back("SMTPUTF8");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out_.append(i + 1 < lines.size() ? "250-" : "250 ").append(lines[i]).append("\r\n");
  }
}

void SubmissionSession::on_starttls(std::string_view arg) {
  if (!config_.starttls_offered) return error_reply("502 5.5.1 Error: command not implemented");
  if (tls_active_) return error_reply("554 5.5.1 Error: TLS already active");
  if (!trim(arg).empty()) return error_reply("501 5.5.4 Syntax: STARTTLS");
  reply("220 2.0.0 Ready to start TLS");
  state_ = State::kStartTls;
}

void SubmissionSession::tls_started() {
  tls_active_ = true;
  helo_.clear();  // RFC 3207 §4.2: the client starts over with EHLO
  reset_transaction();
  state_ = State::kCommand;
}

void SubmissionSession::on_auth(std::string_view arg) {
  if (helo_.empty()) return error_reply("503 5.5.1 Error: send EHLO first");
  if (!account_ && config_.users != nullptr && !config_.users->empty() && !tls_active_) {
    return error_reply(
        "538 5.7.11 Encryption required for requested authentication mechanism (STARTTLS first)");
  }
  if (!auth_offered()) return error_reply("503 5.5.1 Error: authentication not enabled");
  if (account_ != nullptr) return error_reply("503 5.5.1 Error: already authenticated");
  if (in_transaction_) return error_reply("503 5.5.1 Error: MAIL transaction in progress");
  arg = trim(arg);
  const std::size_t space = arg.find(' ');
  const std::string_view mechanism = arg.substr(0, space);
  const std::string_view initial =
      space == std::string_view::npos ? std::string_view() : trim(arg.substr(space + 1));
  if (iequals(mechanism, "PLAIN")) {
    if (initial.empty()) {
      state_ = State::kAuthPlain;
      return reply("334 ");
    }
    state_ = State::kAuthPlain;
    return handle_auth_line(initial);
  }
  if (iequals(mechanism, "LOGIN")) {
    state_ = State::kAuthUser;
    if (initial.empty()) return reply("334 VXNlcm5hbWU6");  // "Username:"
    return handle_auth_line(initial);
  }
  error_reply("504 5.5.4 Unrecognized authentication type (PLAIN and LOGIN are offered)");
}

void SubmissionSession::handle_auth_line(std::string_view line) {
  const State step = state_;
  state_ = State::kCommand;
  line = trim(line);
  if (line == "*") return reply("501 5.7.0 Authentication aborted");
  std::optional<std::string> decoded =
      line == "=" ? std::optional<std::string>(std::string()) : base64_decode(line);
  if (!decoded) return error_reply("501 5.5.2 Cannot decode the response (base64)");
  switch (step) {
    case State::kAuthPlain: {
      // authzid NUL authcid NUL password (RFC 4616); an authzid other than the user is refused.
      const std::size_t first = decoded->find('\0');
      const std::size_t second =
          first == std::string::npos ? std::string::npos : decoded->find('\0', first + 1);
      if (second == std::string::npos) {
        return error_reply("501 5.5.2 Malformed PLAIN response");
      }
      const std::string_view all = *decoded;
      const std::string_view authzid = all.substr(0, first);
      const std::string_view authcid = all.substr(first + 1, second - first - 1);
      if (!authzid.empty() && authzid != authcid) {
        ++auth_failures_;
        return reply("535 5.7.8 Authentication credentials invalid (authorization identity)");
      }
      return finish_auth(authcid, all.substr(second + 1));
    }
    case State::kAuthUser:
      login_user_ = std::move(*decoded);
      state_ = State::kAuthPass;
      return reply("334 UGFzc3dvcmQ6");  // "Password:"
    case State::kAuthPass: {
      const std::string user = std::move(login_user_);
      login_user_.clear();
      return finish_auth(user, *decoded);
    }
    default:
      return;
  }
}

void SubmissionSession::finish_auth(std::string_view user, std::string_view password) {
  const SubmissionUser* account = config_.users->find(user);
  if (account != nullptr && config_.users->verify(*account, password)) {
    account_ = account;
    user_ = account->name;
    return reply("235 2.7.0 Authentication successful");
  }
  notes_.push_back({"auth_failed", printable(user, 64)});
  if (++auth_failures_ >= kMaxAuthFailures) {
    reply("421 4.7.0 Too many failed authentications, closing");
    state_ = State::kClosed;
    return;
  }
  reply("535 5.7.8 Authentication credentials invalid");
}

void SubmissionSession::on_mail(std::string_view arg) {
  if (helo_.empty()) return error_reply("503 5.5.1 Error: send HELO/EHLO first");
  if (in_transaction_) return error_reply("503 5.5.1 Error: nested MAIL command");
  if (account_ == nullptr && !config_.relay_client) {
    notes_.push_back({"auth_required", printable(arg, 254)});
    return reply(auth_offered() || config_.starttls_offered
                     ? "530 5.7.0 Authentication required"
                     : "530 5.7.0 Authentication required (and not offered here: submit from a "
                       "relay network)");
  }
  if (!istarts_with(arg, "FROM:")) return error_reply("501 5.5.4 Syntax: MAIL FROM:<address>");
  protocol::SmtpPath path;
  if (!protocol::parse_smtp_path(arg.substr(5), path)) {
    return error_reply("501 5.1.7 Bad sender address syntax");
  }
  if (const auto verdict = protocol::check_mail_params(path.params, config_.max_message_size,
                                                       /*accept_auth=*/true);
      !verdict.reply.empty()) {
    return verdict.syntax_error ? error_reply(verdict.reply) : reply(verdict.reply);
  }
  if (account_ != nullptr && !account_->may_send_as(path.address)) {
    return reply("553 5.7.1 <" + printable(path.address, 254) +
                 ">: Sender address rejected: not owned by user " + printable(user_, 64));
  }
  if (account_ != nullptr && config_.rates != nullptr &&
      !config_.rates->try_take(*account_, now_)) {
    return reply("450 4.7.1 Message rate limit of " + account_->rate.str() + " reached for user " +
                 printable(user_, 64) + ", try again later");
  }
  smtputf8_ = false;
  std::string_view params = path.params, name, value;
  bool has_value = false;
  while (protocol::next_smtp_param(params, name, value, has_value)) {
    smtputf8_ = smtputf8_ || iequals(name, "SMTPUTF8");
  }
  if (!all_ascii(path.address) && !smtputf8_) {
    return reply("553 5.6.7 <" + printable(path.address, 254) +
                 ">: a non-ASCII address needs SMTPUTF8 on MAIL FROM (RFC 6531)");
  }
  in_transaction_ = true;
  sender_.assign(path.address);
  recipients_.clear();
  reply("250 2.1.0 Ok");
}

void SubmissionSession::on_rcpt(std::string_view arg) {
  if (!in_transaction_) return error_reply("503 5.5.1 Error: need MAIL command");
  if (!istarts_with(arg, "TO:")) return error_reply("501 5.5.4 Syntax: RCPT TO:<address>");
  protocol::SmtpPath path;
  if (!protocol::parse_smtp_path(arg.substr(3), path) || path.address.empty()) {
    return error_reply("501 5.1.3 Bad recipient address syntax");
  }
  if (!path.params.empty()) return error_reply("555 5.5.4 Unsupported RCPT parameter");
  std::size_t limit = config_.max_recipients;
  if (account_ != nullptr && account_->max_recipients > 0) {
    limit = std::min<std::size_t>(limit, account_->max_recipients);
  }
  if (recipients_.size() >= limit) {
    return reply("452 4.5.3 Too many recipients (at most " + std::to_string(limit) +
                 " per message)");
  }
  const std::string shown = printable(path.address, 254);
  if (!all_ascii(path.address) && !smtputf8_) {
    return reply("553 5.6.7 <" + shown +
                 ">: a non-ASCII address needs SMTPUTF8 on MAIL FROM (RFC 6531)");
  }
  auto address = message::parse_address(path.address);
  if (!address) return reply("553 5.1.3 <" + shown + ">: " + address.error().message);
  if (address->domain.front() == '[') {
    return reply("553 5.1.2 <" + shown + ">: address literals are not delivered");
  }
  if (config_.suppressions != nullptr) {
    const std::optional<bool> listed = config_.suppressions->suppressed(address->str());
    if (!listed) return reply("451 4.3.0 <" + shown + ">: the suppression list cannot be read");
    if (*listed) {
      return reply("550 5.7.1 <" + shown +
                   ">: on the suppression list (bounced or unsubscribed); not sent");
    }
  }
  recipients_.push_back(address->str());
  reply("250 2.1.5 Ok");
}

void SubmissionSession::on_data(std::string_view arg) {
  if (!trim(arg).empty()) return error_reply("501 5.5.4 Syntax: DATA");
  if (!in_transaction_) return error_reply("503 5.5.1 Error: need MAIL command");
  if (bdat_) return error_reply("503 5.5.1 Error: BDAT in progress, DATA not allowed");
  if (recipients_.empty()) return reply("554 5.5.1 Error: no valid recipients");
  state_ = State::kData;
  body_.assign("\r\n");  // the sentinel: a body that is only ".\r\n" ends at once
  too_big_ = false;
  reply("354 End data with <CR><LF>.<CR><LF>");
}

// Appends input to the body until "\r\n.\r\n"; the dots are unstuffed at the end, in one pass.
std::size_t SubmissionSession::feed_data(std::string_view bytes) {
  const std::size_t old = body_.size();
  body_.append(bytes);
  const std::size_t end = body_.find(kDataEnd, old >= 4 ? old - 4 : 0);
  if (end == std::string::npos) {
    if (body_.size() - 2 > config_.max_message_size) {
      too_big_ = true;  // read on to the end, keeping only what could start it
      body_.erase(0, body_.size() - 4);
    }
    return bytes.size();
  }
  const std::size_t used = end + kDataEnd.size() - old;
  body_.resize(end + 2);  // through the CRLF that ends the last line
  if (body_.size() - 2 > config_.max_message_size) too_big_ = true;
  state_ = State::kCommand;
  if (too_big_) {
    reset_transaction();
    reply("552 5.3.4 Message size exceeds fixed maximum message size");
    return used;
  }
  std::string unstuffed;
  unstuffed.reserve(body_.size());
  std::size_t i = 2;  // a line starts here
  while (i < body_.size()) {
    if (body_[i] == '.') ++i;
    const std::size_t eol = body_.find("\r\n", i);
    if (eol == std::string::npos) {
      unstuffed.append(body_, i, std::string::npos);
      break;
    }
    unstuffed.append(body_, i, eol + 2 - i);
    i = eol + 2;
  }
  body_.swap(unstuffed);
  finish_message();
  return used;
}

void SubmissionSession::on_bdat(std::string_view arg) {
  if (!protocol::parse_bdat(arg, bdat_left_, bdat_last_)) {
    return error_reply("501 5.5.4 Syntax: BDAT chunk-size [LAST]");
  }
  // A refused chunk is still read (RFC 3030 §2: its octets follow the command regardless).
  bdat_refused_ = !in_transaction_ || recipients_.empty();
  if (!bdat_refused_ && !bdat_) {
    bdat_ = true;
    body_.clear();
    too_big_ = false;
  }
  state_ = State::kBdat;
  if (bdat_left_ == 0) feed_bdat({});
}

std::size_t SubmissionSession::feed_bdat(std::string_view bytes) {
  const auto take = static_cast<std::size_t>(std::min<uint64_t>(bytes.size(), bdat_left_));
  if (!bdat_refused_ && !too_big_) {
    body_.append(bytes.substr(0, take));
    if (body_.size() > config_.max_message_size) {
      too_big_ = true;
      body_.clear();
    }
  }
  bdat_left_ -= take;
  if (bdat_left_ > 0) return take;
  state_ = State::kCommand;
  if (bdat_refused_) {
    bdat_refused_ = false;
    if (!in_transaction_) {
      error_reply("503 5.5.1 Error: need MAIL command");
    } else {
      reply("554 5.5.1 Error: no valid recipients");
    }
    return take;
  }
  if (too_big_) {
    reset_transaction();
    reply("552 5.3.4 Message size exceeds fixed maximum message size");
    return take;
  }
  if (bdat_last_) {
    finish_message();
  } else {
    reply("250 2.0.0 Ok: " + std::to_string(body_.size()) + " octets received");
  }
  return take;
}

std::string SubmissionSession::received_header() const {
  // RFC 3848: ESMTP + S (TLS) + A (authenticated).
  std::string with = extended_ ? "ESMTP" : "SMTP";
  if (extended_ && tls_active_) with += "S";
  if (extended_ && account_ != nullptr) with += "A";
  return "Received: from " + helo_ + " ([" + config_.client_address + "])\r\n\tby " +
         config_.hostname + " (ringmta) with " + with + " id " + config_.session_id + "." +
         std::to_string(messages_ + 1) + ";\r\n\t" + message::rfc5322_date(now_ / 1000) + "\r\n";
}

void SubmissionSession::finish_message() {
  // Read as delivery will read it: a message it could not send is refused now, not bounced later.
  auto parsed = message::MessageTemplate::parse(body_, /*merge_fields=*/false,
                                                /*keep_identity=*/true);
  if (!parsed) {
    reset_transaction();
    return reply("554 5.6.0 Message refused: " + printable(parsed.error().message, 200, true));
  }
  std::string text = received_header();
  if (!parsed->has_field("date")) text += "Date: " + message::rfc5322_date(now_ / 1000) + "\r\n";
  if (!parsed->has_field("message-id")) {
    text += "Message-ID: <" + config_.session_id + "." + std::to_string(messages_ + 1) + "@" +
            config_.hostname + ">\r\n";
  }
  text += body_;
  message_ =
      SubmittedMessage{.sender = std::move(sender_),
                       .recipients = std::move(recipients_),
                       .message = std::move(text),
                       .user = user_,
                       .campaign = account_ != nullptr ? campaign_of(config_.campaign_prefix, user_)
                                                       : config_.network_campaign};
  reset_transaction();
  message_taken_ = false;
  state_ = State::kCommitting;
}

SubmittedMessage SubmissionSession::take_message() {
  message_taken_ = true;
  return std::move(message_);
}

void SubmissionSession::committed(std::string_view queue_id) {
  if (state_ != State::kCommitting) return;
  ++messages_;
  state_ = State::kCommand;
  out_.append("250 2.0.0 Ok: queued as ").append(queue_id).append("\r\n");
}

void SubmissionSession::commit_failed(std::string_view reason) {
  if (state_ != State::kCommitting) return;
  state_ = State::kCommand;
  reply("451 4.3.0 Message not queued, try again later: " + printable(reason, 200, true));
}

void SubmissionSession::reset_transaction() {
  in_transaction_ = false;
  sender_.clear();
  recipients_.clear();
  body_.clear();
  body_.shrink_to_fit();
  bdat_ = false;
  too_big_ = false;
}

}  // namespace ringmta::submission
