// SMTP command arguments: local part, domain and address-literal syntax, parameters, BDAT.
#include "protocol/smtp_arguments.h"

#include <charconv>
#include <cstring>

#include "util/strings.h"

namespace ringmta::protocol {
namespace {

bool is_domain_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c >= 0x80;  // UTF-8 (SMTPUTF8)
}

// Local part: an atom-ish dot string or a quoted string; octets >= 0x80 allowed (SMTPUTF8).
bool valid_local_part(std::string_view s) {
  if (s.empty()) return false;
  if (s.front() == '"') {
    if (s.size() < 2 || s.back() != '"') return false;
    for (std::size_t i = 1; i + 1 < s.size(); ++i) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c == '\\') {
        if (++i + 1 >= s.size()) return false;
        continue;
      }
      if (c == '"' || c < 0x20 || c == 0x7f) return false;
    }
    return true;
  }
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f || std::strchr("<>()[]\\,;:@\"", ch) != nullptr) return false;
  }
  return s.front() != '.' && s.back() != '.';
}

bool valid_domain(std::string_view s) {
  if (s.empty()) return false;
  if (s.front() == '[') {  // address literal
    if (s.size() < 3 || s.back() != ']') return false;
    for (char ch : s.substr(1, s.size() - 2)) {
      auto c = static_cast<unsigned char>(ch);
      if (c <= 0x20 || c == 0x7f || c == '[' || c == ']' || c == '\\') return false;
    }
    return true;
  }
  for (char ch : s) {
    if (!is_domain_char(static_cast<unsigned char>(ch))) return false;
  }
  return s.front() != '.' && s.back() != '.';
}

}  // namespace

bool parse_smtp_path(std::string_view s, SmtpPath& out) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  if (s.empty() || s.front() != '<') return false;
  // Find the closing '>' outside a quoted local part.
  std::size_t close = std::string_view::npos;
  bool quoted = false;
  for (std::size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && c == '>') {
      close = i;
      break;
    }
  }
  if (close == std::string_view::npos) return false;
  std::string_view inner = s.substr(1, close - 1);
  std::string_view rest = s.substr(close + 1);
  if (!rest.empty() && rest.front() != ' ') return false;
  out.params = trim(rest);
  if (!inner.empty() && inner.front() == '@') {  // obsolete source route "@a,@b:user@d"
    std::size_t colon = inner.find(':');
    if (colon == std::string_view::npos) return false;
    inner.remove_prefix(colon + 1);
    if (inner.empty()) return false;
  }
  out.address = inner;
  if (inner.empty()) return true;  // null path; the caller decides if it is allowed
  std::size_t at = inner.rfind('@');
  if (at == std::string_view::npos) return iequals(inner, "postmaster");
  return valid_local_part(inner.substr(0, at)) && valid_domain(inner.substr(at + 1));
}

MailParamsVerdict check_mail_params(std::string_view params, uint64_t max_size, bool accept_auth) {
  std::string_view name, value;
  bool has_value = false;
  while (next_smtp_param(params, name, value, has_value)) {
    if (iequals(name, "SIZE")) {
      uint64_t size = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), size);
      if (value.empty() || ec == std::errc::invalid_argument ||
          ptr != value.data() + value.size()) {
        return {"501 5.5.4 Bad SIZE parameter", true};
      }
      if (ec == std::errc::result_out_of_range || size > max_size) {
        return {"552 5.3.4 Message size exceeds fixed maximum message size", false};
      }
    } else if (iequals(name, "BODY")) {
      if (!iequals(value, "7BIT") && !iequals(value, "8BITMIME")) {
        return {"501 5.5.4 Bad BODY parameter", true};
      }
    } else if (iequals(name, "SMTPUTF8")) {
      if (has_value) return {"501 5.5.4 Bad SMTPUTF8 parameter", true};
    } else if (!(accept_auth && iequals(name, "AUTH"))) {
      return {"555 5.5.4 Unsupported MAIL parameter", true};
    }
  }
  return {};
}

bool parse_bdat(std::string_view arg, uint64_t& size, bool& last) {
  arg = trim(arg);
  const std::size_t sp = arg.find(' ');
  const std::string_view size_text = arg.substr(0, sp);
  const std::string_view rest =
      sp == std::string_view::npos ? std::string_view() : trim(arg.substr(sp));
  auto [ptr, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size);
  if (size_text.empty() || ec != std::errc() || ptr != size_text.data() + size_text.size() ||
      (!rest.empty() && !iequals(rest, "LAST"))) {
    return false;
  }
  last = !rest.empty();
  return true;
}

bool next_smtp_param(std::string_view& params, std::string_view& name, std::string_view& value,
                     bool& has_value) {
  params = trim(params);
  if (params.empty()) return false;
  std::size_t sp = params.find(' ');
  std::string_view param = params.substr(0, sp);
  params = sp == std::string_view::npos ? std::string_view() : params.substr(sp + 1);
  std::size_t eq = param.find('=');
  has_value = eq != std::string_view::npos;
  name = param.substr(0, eq);
  value = has_value ? param.substr(eq + 1) : std::string_view();
  return true;
}

}  // namespace ringmta::protocol
