// libFuzzer target for service::parse_campaign_request: arbitrary bytes as the body of
// POST /api/v1/campaigns. It may not do I/O; it checks that the parser either names an error or
// returns a request whose CSV has a header row, one row per recipient, and a line map that
// finds every recipient again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "service/campaign_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = ringmta::service::parse_campaign_request(body);
  if (!parsed.ok) {
    if (parsed.error.message.empty()) std::abort();
    if (!parsed.request.csv.empty() || !parsed.request.row_lines.empty()) std::abort();
    return 0;
  }
  const auto& r = parsed.request;
  if (r.row_lines.empty() || r.csv.empty() || r.csv.back() != '\n') std::abort();
  for (std::size_t i = 0; i < r.row_lines.size(); ++i) {
    if (r.recipient_at_line(r.row_lines[i]) != static_cast<long>(i)) std::abort();
    if (i > 0 && r.row_lines[i] <= r.row_lines[i - 1]) std::abort();
  }
  return 0;
}
