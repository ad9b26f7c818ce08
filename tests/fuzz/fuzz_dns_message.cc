// libFuzzer target for dns/dns_message (hostile DNS answers, RELIABILITY.md items 17 and 19):
// arbitrary bytes parsed, interpreted as MX, A and AAAA answers, and run through the MX policy.
// It may not do I/O; it checks the parser's bounds and that policy output is well-formed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "dns/dns_message.h"
#include "dns/mx_policy.h"

using namespace ringmta::dns;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  auto parsed = parse_dns_message(data, size);
  std::string qname = "example.test";
  if (parsed.ok()) {
    // Names are at most 255 wire bytes; escaping turns one byte into at most four characters.
    if (parsed->qname.size() > 4 * 255) std::abort();
    if (parsed->answers.size() + parsed->authority.size() > size / 11) std::abort();
    for (const DnsRecord& r : parsed->answers) {
      if (r.owner.size() > 4 * 255 || r.target.size() > 4 * 255) std::abort();
    }
    if (auto n = normalize_domain(parsed->qname)) qname = *n;  // so interpretation gets further
  }
  MxOutcome mx = mx_outcome_from_answer(data, size, qname, 300);
  if (mx.status != LookupStatus::kOk && !mx.records.empty()) std::abort();
  Destination d = choose_destination(qname, mx, size);
  if (d.ok() == d.hosts.empty()) std::abort();
  for (const MxHost& h : d.hosts) {
    if (normalize_domain(h.name) != h.name) std::abort();  // only valid, normalised names
  }
  AddressOutcome a;
  FamilyOutcome v4 = address_outcome_from_answer(data, size, qname, kTypeA, 300);
  FamilyOutcome v6 = address_outcome_from_answer(data, size, qname, kTypeAaaa, 300);
  a.v4_status = v4.status;
  a.v6_status = v6.status;
  for (auto& r : v4.records) {
    if (r.address.family != AF_INET) std::abort();
    a.v4.push_back(r);
  }
  for (auto& r : v6.records) {
    if (r.address.family != AF_INET6) std::abort();
    a.v6.push_back(r);
  }
  PolicyOptions options;
  DestinationAddresses out = build_candidates(d, {a, a}, options);
  if (out.ok() == out.candidates.empty()) std::abort();
  for (const Candidate& c : out.candidates) {
    if (refuse_reason(c.address, options) != nullptr) std::abort();
  }
  return 0;
}
