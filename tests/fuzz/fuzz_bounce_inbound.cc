// libFuzzer target: hostile messages into bounce::parse_inbound_report (a DSN or complaint that
// came back from anywhere). Checks that a parsed delivery-status report has recipients and that
// no field holds a line break. It may not touch sockets or files.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bounce/inbound.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringmta::bounce;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto r = parse_inbound_report(input);
  if (!r.ok()) return 0;
  if (r->kind == InboundReport::Kind::kDeliveryStatus && r->recipients.empty()) std::abort();
  for (const auto& rcpt : r->recipients) {
    for (const auto* f : {&rcpt.address, &rcpt.action, &rcpt.status, &rcpt.diagnostic}) {
      if (f->find('\n') != std::string::npos) std::abort();
    }
  }
  return 0;
}
