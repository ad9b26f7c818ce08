// libFuzzer target for message::parse_address: arbitrary bytes; an accepted address must be safe
// on an SMTP command line (UTF-8 only in the local part, and only well-formed; the domain ASCII:
// A-labels) and parse again to itself. It may not do I/O.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "message/address.h"
#include "util/strings.h"
#include "util/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto a = ringmta::message::parse_address(text);
  if (!a.ok()) return 0;
  const std::string s = a->str();
  if (s.size() > 254 || a->local.empty() || a->domain.empty()) std::abort();
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 32 || u == 127 || c == '<' || c == '>') std::abort();
  }
  if (!ringmta::is_valid_utf8(a->local)) std::abort();
  for (char c : a->domain) {
    if (static_cast<unsigned char>(c) >= 0x80) std::abort();
  }
  if (a->needs_smtputf8() != ringmta::has_8bit(a->local)) std::abort();
  auto again = ringmta::message::parse_address(s);
  if (!again.ok() || again->str() != s) std::abort();
  return 0;
}
