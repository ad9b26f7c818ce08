// libFuzzer target: hostile reply texts, host names and original headers into bounce::build_dsn.
// Input: NUL-separated fields (diagnostic, remote MTA, original headers, recipient, sender).
// Checks that every DSN built keeps the wire rules: CRLF only, lines of at most 998 octets, no
// NUL, and exactly one closing boundary. It may not touch sockets or files.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "bounce/dsn.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringmta::bounce;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> f;
  while (f.size() < 5) {
    std::size_t z = input.find('\0');
    f.emplace_back(input.substr(0, z));
    input = z == std::string_view::npos ? std::string_view() : input.substr(z + 1);
  }
  DsnInput in;
  in.reporting_mta = "mail.example.org";
  in.envelope_sender = f[4].empty() ? "bounces@example.org" : f[4];
  in.original_headers = f[2];
  in.now = 1767225600;
  in.arrival_date = in.now - 60;
  in.unique = "fuzz";
  DsnRecipient r;
  r.final_recipient = f[3].empty() ? "someone@example.com" : f[3];
  r.status = "5.1.1";
  r.remote_mta = f[1];
  r.diagnostic = f[0];
  r.last_attempt = in.now;
  in.recipients.push_back(r);
  auto dsn = build_dsn(in);
  if (!dsn) return 0;
  const std::string& msg = *dsn;
  if (msg.size() < 2 || msg.compare(msg.size() - 2, 2, "\r\n") != 0) std::abort();
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < msg.size(); ++i) {
    char c = msg[i];
    if (c == '\0') std::abort();
    if (c == '\r' && (i + 1 >= msg.size() || msg[i + 1] != '\n')) std::abort();
    if (c == '\n') {
      if (i == 0 || msg[i - 1] != '\r') std::abort();
      if (i - 1 - line_start > 998) std::abort();
      line_start = i + 1;
    }
  }
  std::size_t b = msg.find("boundary=\"");
  if (b == std::string::npos) std::abort();
  b += 10;
  std::string close = "\r\n--" + msg.substr(b, msg.find('"', b) - b) + "--";
  std::size_t first = msg.find(close);
  if (first == std::string::npos || msg.find(close, first + 1) != std::string::npos) std::abort();
  return 0;
}
