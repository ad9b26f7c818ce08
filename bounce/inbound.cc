// Inbound report parsing (see inbound.h): a small MIME walker (headers, Content-Type parameters,
// multipart boundaries) and RFC 3464 / RFC 5965 field groups. Not a general MIME library: only
// what finding the report part needs.
#include "bounce/inbound.h"

#include <algorithm>
#include <utility>

#include "util/strings.h"

namespace ringmta::bounce {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;  // lower-case name, value

// What trim() removes here: blanks, and a CR that a bare-LF split leaves behind.
constexpr std::string_view kSpace = " \t\r";

// The next line of text (without CR LF / LF); advances `text`.
std::string_view next_line(std::string_view& text) {
  std::size_t nl = text.find('\n');
  std::string_view line = text.substr(0, nl);
  text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// Header fields up to the first empty line (unfolded); `text` is left at the body.
Headers read_headers(std::string_view& text) {
  Headers out;
  while (!text.empty()) {
    std::string_view line = next_line(text);
    if (line.empty()) break;
    if ((line.front() == ' ' || line.front() == '\t') && !out.empty()) {
      out.back().second += ' ';
      out.back().second += trim(line, kSpace);
      continue;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;  // not a field: skipped
    out.emplace_back(lower(trim(line.substr(0, colon), kSpace)),
                     std::string(trim(line.substr(colon + 1), kSpace)));
  }
  return out;
}

const std::string* find(const Headers& h, std::string_view name) {
  for (const auto& [n, v] : h) {
    if (n == name) return &v;
  }
  return nullptr;
}

struct ContentType {
  std::string type;  // "multipart/report", lower-case
  std::string boundary;
  std::string report_type;
};

// Content-Type: type/subtype; name=value; name="quoted value"
ContentType parse_content_type(const std::string* value) {
  ContentType ct;
  if (value == nullptr) {
    ct.type = "text/plain";
    return ct;
  }
  std::string_view v(*value);
  std::size_t semi = v.find(';');
  ct.type = lower(trim(v.substr(0, semi), kSpace));
  while (semi != std::string_view::npos) {
    v.remove_prefix(semi + 1);
    std::size_t eq = v.find('=');
    if (eq == std::string_view::npos) break;
    std::string name = lower(trim(v.substr(0, eq), kSpace));
    v.remove_prefix(eq + 1);
    v = trim(v, kSpace);
    std::string param;
    if (!v.empty() && v.front() == '"') {
      std::size_t i = 1;
      for (; i < v.size() && v[i] != '"'; ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        param += v[i];
      }
      v.remove_prefix(std::min(v.size(), i + 1));
      semi = v.find(';');
    } else {
      semi = v.find(';');
      param = std::string(trim(v.substr(0, semi), kSpace));
    }
    if (name == "boundary") ct.boundary = param;
    if (name == "report-type") ct.report_type = lower(param);
  }
  return ct;
}

// The parts of a multipart body: what lies between "--boundary" lines, up to "--boundary--".
std::vector<std::string_view> split_multipart(std::string_view body, std::string_view boundary) {
  std::vector<std::string_view> parts;
  const std::string delimiter = "--" + std::string(boundary);
  std::size_t pos = 0;
  std::size_t part_start = std::string_view::npos;
  while (pos < body.size() && parts.size() < static_cast<std::size_t>(kMaxParts)) {
    std::size_t end = body.find('\n', pos);
    std::string_view line =
        body.substr(pos, end == std::string_view::npos ? body.size() - pos : end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.starts_with(delimiter)) {
      std::string_view rest = trim(line.substr(delimiter.size()), kSpace);
      if (part_start != std::string_view::npos) {
        // The CR LF before a delimiter belongs to it (RFC 2046 5.1.1).
        std::size_t part_end = pos;
        if (part_end > part_start && body[part_end - 1] == '\n') --part_end;
        if (part_end > part_start && body[part_end - 1] == '\r') --part_end;
        parts.push_back(body.substr(part_start, part_end - part_start));
      }
      if (rest == "--") break;
      part_start = end == std::string_view::npos ? body.size() : end + 1;
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return parts;
}

// "rfc822; a@b" -> "a@b"; "<a@b>" -> "a@b".
std::string strip_type(std::string_view value) {
  std::size_t semi = value.find(';');
  if (semi != std::string_view::npos && semi < 32) value = value.substr(semi + 1);
  value = trim(value, kSpace);
  if (value.size() >= 2 && value.front() == '<' && value.back() == '>') {
    value = value.substr(1, value.size() - 2);
  }
  return std::string(trim(value, kSpace));
}

struct Found {
  std::string_view delivery_status;
  std::string_view feedback_report;
  std::string original_message_id;
  bool report = false;
  int parts = 0;
};

void walk(std::string_view entity, int depth, Found& found) {
  if (depth > kMaxDepth || ++found.parts > kMaxParts) return;
  std::string_view body = entity;
  Headers h = read_headers(body);
  ContentType ct = parse_content_type(find(h, "content-type"));
  if (ct.type == "multipart/report") found.report = true;
  if (ct.type.starts_with("multipart/") && !ct.boundary.empty()) {
    for (std::string_view part : split_multipart(body, ct.boundary)) walk(part, depth + 1, found);
    return;
  }
  if (ct.type == "message/delivery-status" || ct.type == "message/global-delivery-status") {
    if (found.delivery_status.empty()) found.delivery_status = body;
  } else if (ct.type == "message/feedback-report") {
    if (found.feedback_report.empty()) found.feedback_report = body;
  } else if (ct.type == "message/rfc822" || ct.type == "text/rfc822-headers" ||
             ct.type == "message/rfc822-headers" || ct.type == "message/global-headers") {
    std::string_view inner = body;
    Headers original = read_headers(inner);
    if (const std::string* id = find(original, "message-id");
        id && found.original_message_id.empty()) {
      found.original_message_id = strip_type(*id);
    }
  }
}

// Field groups separated by empty lines.
std::vector<Headers> field_groups(std::string_view body) {
  std::vector<Headers> groups;
  while (!body.empty() && groups.size() < 10'000) {
    while (!body.empty()) {  // skip empty lines between groups
      std::string_view probe = body;
      if (!next_line(probe).empty()) break;
      body = probe;
    }
    if (body.empty()) break;
    Headers g = read_headers(body);
    if (!g.empty()) groups.push_back(std::move(g));
  }
  return groups;
}

std::string field(const Headers& h, std::string_view name) {
  const std::string* v = find(h, name);
  return v == nullptr ? std::string() : *v;
}

}  // namespace

Result<InboundReport> parse_inbound_report(std::string_view raw) {
  std::string_view body = raw;
  Headers top = read_headers(body);
  if (top.empty()) return make_error("no message header");
  InboundReport report;
  for (const char* name : {"delivered-to", "x-original-to", "envelope-to", "to"}) {
    for (const auto& [n, v] : top) {
      if (n == name) report.delivered_to.push_back(strip_type(v));
    }
  }
  Found found;
  walk(raw, 0, found);
  report.original_message_id = found.original_message_id;
  if (!found.delivery_status.empty()) {
    auto groups = field_groups(found.delivery_status);
    for (std::size_t i = 1; i < groups.size(); ++i) {  // groups[0] is per message
      InboundRecipient r;
      r.address = strip_type(field(groups[i], "final-recipient"));
      if (r.address.empty()) r.address = strip_type(field(groups[i], "original-recipient"));
      r.action = lower(trim(field(groups[i], "action"), kSpace));
      r.status = std::string(trim(field(groups[i], "status"), kSpace));
      r.diagnostic = strip_type(field(groups[i], "diagnostic-code"));
      r.remote_mta = strip_type(field(groups[i], "remote-mta"));
      if (!r.address.empty()) report.recipients.push_back(std::move(r));
    }
    if (report.recipients.empty()) {
      return make_error("a delivery-status report without any recipient");
    }
    report.kind = InboundReport::Kind::kDeliveryStatus;
    return report;
  }
  if (!found.feedback_report.empty()) {
    auto groups = field_groups(found.feedback_report);
    if (groups.empty()) return make_error("an empty feedback report");
    report.kind = InboundReport::Kind::kComplaint;
    report.feedback_type = lower(trim(field(groups[0], "feedback-type"), kSpace));
    report.original_rcpt_to = strip_type(field(groups[0], "original-rcpt-to"));
    report.original_mail_from = strip_type(field(groups[0], "original-mail-from"));
    if (report.feedback_type.empty()) return make_error("a feedback report without Feedback-Type");
    return report;
  }
  return make_error(found.report ? "a multipart/report without a delivery-status or feedback part"
                                 : "not a delivery status notification or feedback report "
                                   "(no multipart/report)");
}

}  // namespace ringmta::bounce
