// Envelope address validation (RFC 5321 §4.1.2 Mailbox, §4.1.3 address literals, §4.5.3.1 limits;
// RFC 6531 §3.3 for UTF-8 in local parts and domains, IDNA2008 through libidn2 for the A-labels).
// Pure string work: no DNS, no I/O. It may not accept any byte that could end or extend an SMTP
// command line (CR, LF, NUL, controls, spaces outside quotes, '<' '>'), nor malformed UTF-8.
#include "message/address.h"

#include <arpa/inet.h>
#include <idn2.h>

#include <cstring>

#include "util/strings.h"
#include "util/utf8.h"

namespace ringmta::message {
namespace {

constexpr std::size_t kMaxLocal = 64;     // RFC 5321 §4.5.3.1.1
constexpr std::size_t kMaxDomain = 255;   // §4.5.3.1.2
constexpr std::size_t kMaxAddress = 254;  // path 256 minus the angle brackets
constexpr std::size_t kMaxLabel = 63;

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// atext of RFC 5322 §3.2.3.
bool is_atext(char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  return c != '\0' && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr;
}

Error fail(const char* what) {
  return make_error(std::string("address: ") + what);
}

// Dot-atom: atoms of atext (and UTF-8, RFC 6531 §3.3) separated by single dots.
bool valid_dot_atom(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = '\0';
  for (char c : s) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!is_atext(c) && static_cast<unsigned char>(c) < 0x80) {
      return false;
    }
    prev = c;
  }
  return true;
}

// Quoted-string (RFC 5321 Quoted-string): DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE, whole of s.
bool valid_quoted(std::string_view s) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      if (i + 2 >= s.size()) return false;  // the backslash would escape the closing quote
      const auto n = static_cast<unsigned char>(s[++i]);
      if (n < 32 || n > 126) return false;
    } else if (c == '"' || c < 32 || c == 127) {  // >= 0x80: UTF-8 (RFC 6531 qtextSMTP)
      return false;
    }
  }
  return true;
}

// LDH labels, each 1..63, no leading or trailing hyphen, at least two labels.
Result<std::string> normalise_domain(std::string_view d) {
  if (d.empty()) return fail("no domain");
  if (d.size() > kMaxDomain) return fail("domain longer than 255 bytes");
  std::string out;
  out.reserve(d.size());
  std::size_t label = 0;
  std::size_t labels = 1;
  char prev = '.';
  for (char c : d) {
    if (c == '.') {
      if (label == 0) return fail("empty domain label");
      if (prev == '-') return fail("domain label ends with '-'");
      label = 0;
      ++labels;
    } else if (is_alpha(c) || is_digit(c) || c == '-') {
      if (label == 0 && c == '-') return fail("domain label starts with '-'");
      if (++label > kMaxLabel) return fail("domain label longer than 63 bytes");
    } else {
      return fail("invalid character in domain");
    }
    out.push_back(lower(c));
    prev = c;
  }
  if (label == 0) return fail("empty domain label");
  if (prev == '-') return fail("domain label ends with '-'");
  if (labels < 2) return fail("domain without a dot");
  return out;
}

// "[1.2.3.4]" or "[IPv6:...]"; returns the canonical bracketed form.
Result<std::string> normalise_literal(std::string_view d) {
  if (d.size() < 3 || d.back() != ']') return fail("unterminated address literal");
  std::string inner(d.substr(1, d.size() - 2));
  char buf[16];
  constexpr std::string_view kV6 = "ipv6:";
  if (inner.size() > kV6.size()) {
    if (istarts_with(inner, kV6)) {
      std::string addr = inner.substr(kV6.size());
      for (char c : addr) {
        if (!(is_digit(c) || is_alpha(c) || c == ':' || c == '.'))
          return fail("invalid IPv6 literal");
      }
      if (inet_pton(AF_INET6, addr.c_str(), buf) != 1) return fail("invalid IPv6 literal");
      for (char& c : addr) c = lower(c);
      return "[IPv6:" + addr + "]";
    }
  }
  for (char c : inner) {
    if (!(is_digit(c) || c == '.')) return fail("unsupported address literal");
  }
  if (inet_pton(AF_INET, inner.c_str(), buf) != 1) return fail("invalid IPv4 literal");
  return "[" + inner + "]";
}

// A domain with U-labels as its A-labels ("bücher.example" -> "xn--bcher-kva.example"), by
// IDNA2008 with the UTS #46 mapping (what browsers and mail providers resolve), then checked as
// an LDH domain.
Result<std::string> normalise_international_domain(std::string_view d) {
  char* ascii = nullptr;
  const std::string input(d);
  const int rc = idn2_to_ascii_8z(input.c_str(), &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc != IDN2_OK) {
    return make_error(std::string("address: not a valid internationalized domain (") +
                      idn2_strerror(rc) + ")");
  }
  std::string out(ascii);
  idn2_free(ascii);
  return normalise_domain(out);
}

}  // namespace

bool Address::needs_smtputf8() const {
  return has_8bit(local);
}

Result<Address> parse_address(std::string_view text) {
  // Refuse the bytes that could break a command line before anything else.
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r' || c == '\n') return fail("contains CR or LF");
    if (c == '\0') return fail("contains NUL");
    if ((u < 32 && c != '\t' && c != ' ') || u == 127) return fail("contains a control character");
  }
  if (!is_valid_utf8(text)) return fail("not valid UTF-8");
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    const auto second = static_cast<unsigned char>(text[i + 1]);
    if (text[i] == '\xC2' && second <= 0x9F) return fail("contains a control character");  // C1
  }
  text = trim(text);
  if (!text.empty() && text.front() == '<') {
    if (text.size() < 2 || text.back() != '>') return fail("unbalanced angle brackets");
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty()) return fail("empty");
  // Even quoted, '<' and '>' would confuse the path syntax of a command line: never accept them.
  if (text.find_first_of("<>") != std::string_view::npos) return fail("contains '<' or '>'");

  // The local part: a quoted string (which may hold '@') or everything up to the last '@'.
  std::size_t at = std::string_view::npos;
  if (text.front() == '"') {
    std::size_t i = 1;
    for (; i < text.size(); ++i) {
      if (text[i] == '\\') {
        ++i;
      } else if (text[i] == '"') {
        break;
      }
    }
    if (i >= text.size()) return fail("unterminated quoted local part");
    at = i + 1;
    if (at >= text.size() || text[at] != '@') {
      return text.find('@', at) == std::string_view::npos ? fail("no domain")
                                                          : fail("text after quoted local part");
    }
  } else {
    at = text.rfind('@');
    if (at == std::string_view::npos) return fail("no domain");
  }
  const std::string_view local = text.substr(0, at);
  const std::string_view domain = text.substr(at + 1);
  if (local.empty()) return fail("empty local part");
  if (local.size() > kMaxLocal) return fail("local part longer than 64 bytes");
  if (local.front() == '"') {
    if (!valid_quoted(local)) return fail("invalid quoted local part");
    if (local.size() == 2) return fail("empty local part");
  } else if (!valid_dot_atom(local)) {
    return fail("invalid local part");
  }

  Result<std::string> dom = (!domain.empty() && domain.front() == '[') ? normalise_literal(domain)
                            : has_8bit(domain) ? normalise_international_domain(domain)
                                               : normalise_domain(domain);
  if (!dom) return dom.error();
  if (local.size() + 1 + dom->size() > kMaxAddress) return fail("longer than 254 bytes");
  return Address{std::string(local), std::move(dom.value())};
}

}  // namespace ringmta::message
