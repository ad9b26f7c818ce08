// ASCII text helpers for protocol keywords, header names and domain names: case folding (A-Z only,
// whatever the locale), case-insensitive comparison and trimming. Pure functions; they may not
// know any protocol's grammar, treat a byte >= 0x80 as a letter, or allocate (except lower() of a
// string, which returns a copy).
#pragma once

#include <string>
#include <string_view>

namespace ringmta {

constexpr char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

constexpr bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// `s` without the leading and trailing characters that are in `space` (by default blanks: space
// and tab, as in SMTP and HTTP field syntax).
constexpr std::string_view trim(std::string_view s, std::string_view space = " \t") {
  while (!s.empty() && space.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
  while (!s.empty() && space.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
  return s;
}

// SP or HTAB: the blank of SMTP, MIME and header field syntax (RFC 5234 WSP).
constexpr bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

// Whether s has a byte >= 0x80: 8-bit text, not ASCII.
constexpr bool has_8bit(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

// Letters, digits, '-' and '.', not starting or ending with a dot: a host name as it may appear in
// EHLO, a certificate or a DKIM d=/s= (labels are not checked one by one).
constexpr bool is_host_name(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.back() == '.') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '.')) {
      return false;
    }
  }
  return true;
}

}  // namespace ringmta
