// libFuzzer target for protocol::parse_ehlo: arbitrary bytes parsed as an EHLO reply first.
// It may not do I/O; it checks the mechanism list stays bounded, upper case and without blanks.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol/ehlo.h"

using namespace ringmta::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ReplyParser parser;
  (void)parser.feed(in);
  while (auto reply = parser.next()) {
    Capabilities caps = parse_ehlo(*reply);
    if (caps.auth_mechanisms.size() > 32) std::abort();
    for (const auto& m : caps.auth_mechanisms) {
      if (m.empty() || m.size() > 20) std::abort();
      for (char c : m) {
        if (c >= 'a' && c <= 'z') std::abort();
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') std::abort();
      }
      if (!caps.offers_auth(m)) std::abort();
    }
    if (caps.size_limit != 0 && !caps.size) std::abort();
  }
  // Also the raw bytes as keyword lines, without the reply parser's checks.
  Reply raw;
  raw.code = 250;
  raw.lines.emplace_back("host");
  std::size_t start = 0;
  for (std::size_t i = 0; i <= in.size(); ++i) {
    if (i == in.size() || in[i] == '\n') {
      raw.lines.emplace_back(in.substr(start, i - start));
      start = i + 1;
    }
  }
  Capabilities caps = parse_ehlo(raw);
  if (caps.auth_mechanisms.size() > 32) std::abort();
  return 0;
}
