// Checks shared by the fuzz targets of SMTP servers: abort on a broken invariant (libFuzzer then
// keeps the input), and the shape of every reply line. Header only; no I/O.
#pragma once

#include <cstdlib>
#include <string_view>

namespace ringmta::fuzz {

inline void check(bool ok) {
  if (!ok) std::abort();
}

// Every reply line: three digits, then ' ' or '-', and a CRLF end.
inline void check_replies(std::string_view out) {
  while (!out.empty()) {
    std::size_t crlf = out.find("\r\n");
    check(crlf != std::string_view::npos && crlf >= 3);
    for (int i = 0; i < 3; ++i) check(out[i] >= '0' && out[i] <= '9');
    check(crlf == 3 || out[3] == ' ' || out[3] == '-');
    out.remove_prefix(crlf + 2);
  }
}

}  // namespace ringmta::fuzz
