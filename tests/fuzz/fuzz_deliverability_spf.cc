// libFuzzer target for deliverability/: arbitrary bytes as a domain's SPF record (and as a DKIM or
// DMARC tag-list). The evaluator, answered "nothing there" for every further lookup, must reach a
// verdict within the rounds the 10-lookup limit allows, and parse_tags must not crash.
// It may not touch files or the network.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "deliverability/assessment.h"
#include "deliverability/spf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)ringmta::deliverability::parse_tags(text);
  ringmta::deliverability::SpfData dns;
  dns.txt["x.test"] = std::vector<std::string>{"v=spf1 " + text};
  const auto ip = *ringmta::dns::IpAddress::parse("192.0.2.1");
  for (int round = 0; round < 64; ++round) {
    auto r = ringmta::deliverability::evaluate_spf(dns, "x.test", ip);
    if (std::holds_alternative<ringmta::deliverability::SpfVerdict>(r)) return 0;
    const auto& needs = std::get<ringmta::deliverability::SpfNeeds>(r);
    if (needs.txt.empty() && needs.addresses.empty() && needs.mx.empty()) std::abort();
    for (const auto& name : needs.txt) dns.txt[name] = std::vector<std::string>{};
    for (const auto& name : needs.addresses)
      dns.addresses[name] = std::vector<ringmta::dns::IpAddress>{};
    for (const auto& name : needs.mx) dns.mx[name] = std::vector<std::string>{};
  }
  std::abort();  // no verdict: the evaluator asks forever
}
