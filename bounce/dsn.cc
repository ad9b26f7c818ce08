// RFC 3464 DSN builder (see dsn.h). Pure string building: it may not read clocks, draw random
// numbers or do I/O; unsafe input is refused or sanitised, never copied through raw.
#include "bounce/dsn.h"

#include <algorithm>
#include <charconv>
#include <utility>
#include <vector>

#include "message/address.h"
#include "message/template.h"
#include "util/strings.h"

namespace ringmta::bounce {
namespace {

constexpr std::size_t kFoldAt = 78;              // preferred line length (RFC 5322 §2.1.1)
constexpr std::size_t kMaxLine = 998;            // hard limit without CRLF
constexpr std::size_t kChunk = 900;              // forced split of an unbreakable run
constexpr std::size_t kMaxHeaders = 256 * 1024;  // original headers kept at most

bool host_name_ok(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.' ||
      name.front() == '-') {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  });
}

// A remote MTA may also be an address literal, e.g. "[192.0.2.1]" or "[IPv6:2001:db8::1]".
bool remote_mta_ok(std::string_view name) {
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    return name.size() < 64 && std::all_of(name.begin() + 1, name.end() - 1, [](char c) {
             return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                    c == '.' || c == ':' || c == 'I' || c == 'P' || c == 'v';
           });
  }
  return host_name_ok(name);
}

bool unique_ok(std::string_view token) {
  if (token.empty() || token.size() > 64) return false;
  return std::all_of(token.begin(), token.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  });
}

bool status_ok(std::string_view s, int want_class) {
  // class "." subject "." detail; subject and detail 1-3 digits (RFC 3463).
  if (s.size() < 5 || s[0] != static_cast<char>('0' + want_class) || s[1] != '.') return false;
  std::size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start || i - start > 3) return false;
    if (part == 0) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  return i == s.size();
}

// Appends "Name: value" folded at spaces (value already sanitised: single spaces, no controls).
void add_field(std::string& out, std::string_view name, std::string_view value) {
  std::string line(name);
  line += ":";
  std::size_t start = 0;
  while (start < value.size()) {
    std::size_t end = value.find(' ', start);
    if (end == std::string_view::npos) end = value.size();
    std::string_view word = value.substr(start, end - start);
    start = end + 1;
    if (word.empty()) continue;
    while (word.size() > kChunk) {  // an unbreakable run: split it (adds a space when unfolded)
      if (line.size() > 1 + name.size()) {
        out += line + "\r\n";
        line.clear();
      }
      line += " ";
      line += word.substr(0, kChunk);
      word.remove_prefix(kChunk);
    }
    if (line.size() + 1 + word.size() > kFoldAt && line.size() > name.size() + 1) {
      out += line + "\r\n";
      line.clear();
    }
    line += " ";
    line += word;
  }
  out += line + "\r\n";
}

// Appends plain text wrapped at kFoldAt where it has spaces (at most kChunk otherwise).
void add_wrapped(std::string& out, std::string_view text) {
  std::string line;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(' ', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(start, end - start);
    start = end + 1;
    if (word.empty()) continue;
    while (word.size() > kChunk) {
      if (!line.empty()) out += line + "\r\n";
      out += std::string(word.substr(0, kChunk)) + "\r\n";
      line.clear();
      word.remove_prefix(kChunk);
    }
    if (!line.empty() && line.size() + 1 + word.size() > kFoldAt) {
      out += line + "\r\n";
      line.clear();
    }
    if (!line.empty()) line += " ";
    line += word;
  }
  out += line + "\r\n";
}

// The original header block: CRLF endings, ends at the first empty line, no NUL or bare CR,
// lines longer than kMaxLine split as folded continuations, at most kMaxHeaders bytes.
std::string normalise_headers(std::string_view raw) {
  std::string out;
  std::size_t pos = 0;
  while (pos < raw.size() && out.size() < kMaxHeaders) {
    std::size_t nl = raw.find('\n', pos);
    std::string_view line = raw.substr(pos, nl == std::string_view::npos ? raw.npos : nl - pos);
    pos = nl == std::string_view::npos ? raw.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the end of the header block
    std::string clean(line);
    for (char& c : clean) {
      if (c == '\r' || c == '\0') c = ' ';
    }
    bool first = true;
    std::string_view rest = clean;
    while (!rest.empty() || first) {
      std::size_t take = std::min(rest.size(), first ? kMaxLine : kMaxLine - 1);
      if (!first) out += ' ';
      out += rest.substr(0, take);
      out += "\r\n";
      rest.remove_prefix(take);
      first = false;
    }
  }
  return out;
}

const char* action_name(DsnAction a) {
  return a == DsnAction::kFailed ? "failed" : "delayed";
}

}  // namespace

std::string sanitize_field(std::string_view value, std::size_t max_length) {
  std::string out;
  out.reserve(std::min(value.size(), max_length));
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    char d = u < 0x20 || u == 0x7f ? ' ' : u >= 0x80 ? '?' : c;
    if (d == ' ' && (out.empty() || out.back() == ' ')) continue;
    if (out.size() >= max_length) break;
    out += d;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool should_bounce(std::string_view envelope_sender) {
  std::string_view s = trim(envelope_sender);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  if (s.empty()) return false;  // the null reverse-path: never bounced (RFC 5321 §4.5.5)
  auto address = message::parse_address(s);
  if (!address) return false;
  std::string local;
  for (char c : address->local) local += lower(c);
  if (local.size() >= 2 && local.front() == '"' && local.back() == '"') {
    local = local.substr(1, local.size() - 2);
  }
  local = local.substr(0, local.find('+'));  // postmaster+tag is still postmaster
  static const char* const kSystem[] = {"mailer-daemon", "mailer_daemon", "mailerdaemon",
                                        "postmaster",    "double-bounce", "mail-daemon"};
  return std::none_of(std::begin(kSystem), std::end(kSystem),
                      [&](const char* name) { return local == name; });
}

namespace {

// The checks on the input as a whole; each recipient's come with its field group.
Result<void> check_input(const DsnInput& in, const std::string& domain) {
  if (!should_bounce(in.envelope_sender)) {
    return make_error("no DSN to sender '" + sanitize_field(in.envelope_sender, 200) +
                      "': null, a mail system's address, or invalid");
  }
  if (!host_name_ok(in.reporting_mta)) {
    return make_error("invalid reporting MTA name '" + sanitize_field(in.reporting_mta, 200) + "'");
  }
  if (!host_name_ok(domain)) {
    return make_error("invalid reporting domain '" + sanitize_field(domain, 200) + "'");
  }
  if (!unique_ok(in.unique)) {
    return make_error("the unique token must be 1-64 characters of [A-Za-z0-9._-]");
  }
  if (in.recipients.empty()) return make_error("a DSN needs at least one recipient");
  return {};
}

// The contents of the three parts, built before the boundary is chosen to occur in none of them.
struct DsnParts {
  std::string text;     // the notification for a person
  std::string report;   // message/delivery-status
  std::string headers;  // the original message's headers (may be empty)
};

// Appends recipient `index`'s per-recipient field group to the report and returns its line for
// the notification text ("<a@example.org>: host mx.example.org said: 550 ...").
Result<std::string> add_recipient_group(std::string& report, const DsnRecipient& r,
                                        std::size_t index) {
  std::string which = "recipient " + std::to_string(index + 1) + ": ";
  auto address = message::parse_address(r.final_recipient);
  if (!address) return make_error(which + address.error().message);
  int want_class = r.action == DsnAction::kFailed ? 5 : 4;
  if (!status_ok(r.status, want_class)) {
    return make_error(which + "status '" + sanitize_field(r.status, 20) + "' must be " +
                      std::to_string(want_class) + ".X.Y for action " + action_name(r.action));
  }
  if (!r.remote_mta.empty() && !remote_mta_ok(r.remote_mta)) {
    return make_error(which + "invalid remote MTA name '" + sanitize_field(r.remote_mta, 200) +
                      "'");
  }
  std::string diagnostic = sanitize_field(r.diagnostic);
  if (istarts_with(diagnostic, "smtp;")) {
    diagnostic = sanitize_field(diagnostic.substr(5));
  }
  report += "\r\n";  // a blank line before each per-recipient group
  add_field(report, "Final-Recipient", "rfc822; " + address->str());
  add_field(report, "Action", action_name(r.action));
  add_field(report, "Status", r.status);
  if (!r.remote_mta.empty()) add_field(report, "Remote-MTA", "dns; " + r.remote_mta);
  if (!diagnostic.empty()) add_field(report, "Diagnostic-Code", "smtp; " + diagnostic);
  if (r.last_attempt != 0) {
    add_field(report, "Last-Attempt-Date", message::rfc5322_date(r.last_attempt));
  }
  if (r.action == DsnAction::kDelayed && r.will_retry_until != 0) {
    add_field(report, "Will-Retry-Until", message::rfc5322_date(r.will_retry_until));
  }
  std::string line = "<" + address->str() + ">: ";
  if (!r.remote_mta.empty()) {
    line += "host " + r.remote_mta + " said: ";
  }
  line += diagnostic.empty() ? "status " + r.status : diagnostic;
  return line;
}

// A paragraph and then each recipient's line as a paragraph of its own; nothing without lines.
void add_recipient_paragraphs(std::string& text, std::string_view intro,
                              const std::vector<std::string>& lines) {
  if (lines.empty()) return;
  add_wrapped(text, intro);
  text += "\r\n";
  for (const auto& l : lines) {
    add_wrapped(text, l);
    text += "\r\n";
  }
}

std::string notification_text(const std::string& reporting_mta,
                              const std::vector<std::string>& failed_lines,
                              const std::vector<std::string>& delayed_lines,
                              bool headers_attached) {
  std::string text;
  add_wrapped(text, "This is the mail system at host " + reporting_mta + ".");
  text += "\r\n";
  add_recipient_paragraphs(text,
                           "Your message could not be delivered to the recipients below. This is "
                           "a permanent error; it will not be retried.",
                           failed_lines);
  add_recipient_paragraphs(text,
                           "Delivery to the recipients below has been delayed. This is a warning "
                           "only: delivery will be retried, you do not need to resend your "
                           "message.",
                           delayed_lines);
  if (headers_attached) {
    add_wrapped(text, "The headers of your message are attached.");
  }
  return text;
}

// "=_ringmta-dsn-UNIQUE", or with "-N" added, whichever first occurs in none of the parts.
std::string choose_boundary(const std::string& unique, const DsnParts& parts) {
  std::string boundary = "=_ringmta-dsn-" + unique;
  for (int n = 1; parts.text.find(boundary) != std::string::npos ||
                  parts.report.find(boundary) != std::string::npos ||
                  parts.headers.find(boundary) != std::string::npos;
       ++n) {
    boundary = "=_ringmta-dsn-" + unique + "-" + std::to_string(n);
  }
  return boundary;
}

// The message header, then the parts: notification, delivery report and (if any) the headers.
std::string assemble(const DsnInput& in, const std::string& domain, const message::Address& sender,
                     bool any_failed, const DsnParts& parts) {
  const std::string boundary = choose_boundary(in.unique, parts);
  std::string out;
  out += "From: Mail Delivery System <MAILER-DAEMON@" + domain + ">\r\n";
  out += "To: <" + sender.str() + ">\r\n";
  out +=
      std::string("Subject: ") +
      (any_failed ? "Undelivered Mail Returned to Sender" : "Delayed Mail (still being retried)") +
      "\r\n";
  out += "Date: " + message::rfc5322_date(in.now) + "\r\n";
  out += "Message-ID: <dsn." + in.unique + "@" + in.reporting_mta + ">\r\n";
  out += "Auto-Submitted: auto-replied\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: multipart/report; report-type=delivery-status;\r\n";
  out += "\tboundary=\"" + boundary + "\"\r\n";
  out += "Content-Transfer-Encoding: " + std::string(has_8bit(parts.headers) ? "8bit" : "7bit") +
         "\r\n";
  out += "\r\n";
  out += "This is a MIME-encapsulated message.\r\n";
  out += "\r\n--" + boundary + "\r\n";
  out += "Content-Description: Notification\r\n";
  out += "Content-Type: text/plain; charset=us-ascii\r\n";
  out += "\r\n";
  out += parts.text;
  out += "\r\n--" + boundary + "\r\n";
  out += "Content-Description: Delivery report\r\n";
  out += "Content-Type: message/delivery-status\r\n";
  out += "\r\n";
  out += parts.report;
  if (!parts.headers.empty()) {
    out += "\r\n--" + boundary + "\r\n";
    out += "Content-Description: Undelivered Message Headers\r\n";
    out += "Content-Type: text/rfc822-headers\r\n";
    if (has_8bit(parts.headers)) out += "Content-Transfer-Encoding: 8bit\r\n";
    out += "\r\n";
    out += parts.headers;
  }
  out += "\r\n--" + boundary + "--\r\n";
  return out;
}

}  // namespace

Result<std::string> build_dsn(const DsnInput& in) {
  const std::string& domain = in.reporting_domain.empty() ? in.reporting_mta : in.reporting_domain;
  if (auto checked = check_input(in, domain); !checked) return checked.error();
  auto sender = message::parse_address(in.envelope_sender);  // tolerates <...> and spaces
  if (!sender) return make_error("envelope sender: " + sender.error().message);

  DsnParts parts;
  add_field(parts.report, "Reporting-MTA", "dns; " + in.reporting_mta);
  if (!in.original_envelope_id.empty()) {
    add_field(parts.report, "Original-Envelope-Id", sanitize_field(in.original_envelope_id, 100));
  }
  if (in.arrival_date != 0) {
    add_field(parts.report, "Arrival-Date", message::rfc5322_date(in.arrival_date));
  }
  std::vector<std::string> failed_lines, delayed_lines;
  for (std::size_t i = 0; i < in.recipients.size(); ++i) {
    const DsnRecipient& r = in.recipients[i];
    auto line = add_recipient_group(parts.report, r, i);
    if (!line) return line.error();
    (r.action == DsnAction::kFailed ? failed_lines : delayed_lines).push_back(std::move(*line));
  }
  parts.headers = normalise_headers(in.original_headers);
  parts.text =
      notification_text(in.reporting_mta, failed_lines, delayed_lines, !parts.headers.empty());
  return assemble(in, domain, *sender, !failed_lines.empty(), parts);
}

std::string encode_report(const DsnRecipient& r) {
  std::string out;
  out += r.action == DsnAction::kFailed ? "failed" : "delayed";
  for (const std::string* field : {&r.final_recipient, &r.status, &r.remote_mta, &r.diagnostic}) {
    out += '\t';
    out += sanitize_field(*field);
  }
  out += '\t' + std::to_string(r.last_attempt) + '\t' + std::to_string(r.will_retry_until);
  return out;
}

Result<DsnRecipient> decode_report(std::string_view report) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    std::size_t tab = report.find('\t', start);
    parts.push_back(report.substr(start, tab == std::string_view::npos ? tab : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  if (parts.size() != 7 || (parts[0] != "failed" && parts[0] != "delayed")) {
    return make_error("bounce report: expected 7 tab-separated fields");
  }
  DsnRecipient r;
  r.action = parts[0] == "failed" ? DsnAction::kFailed : DsnAction::kDelayed;
  r.final_recipient = parts[1];
  r.status = parts[2];
  r.remote_mta = parts[3];
  r.diagnostic = parts[4];
  for (auto [text, out] :
       {std::pair{parts[5], &r.last_attempt}, std::pair{parts[6], &r.will_retry_until}}) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return make_error("bounce report: bad time '" + std::string(text) + "'");
    }
    *out = v;
  }
  return r;
}

}  // namespace ringmta::bounce
