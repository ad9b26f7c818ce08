// MX policy implementation: RFC 5321 §5.1 / RFC 7505 decisions and address ordering. Pure
// functions only; it may not touch sockets, clocks or global random state.
#include "dns/mx_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "util/strings.h"

namespace ringmta::dns {

const char* to_string(LookupStatus status) {
  switch (status) {
    case LookupStatus::kOk:
      return "ok";
    case LookupStatus::kNoData:
      return "no data";
    case LookupStatus::kNxDomain:
      return "domain does not exist";
    case LookupStatus::kInvalidName:
      return "invalid domain name";
    case LookupStatus::kServFail:
      return "server failure";
    case LookupStatus::kRefused:
      return "query refused";
    case LookupStatus::kTimeout:
      return "timeout";
    case LookupStatus::kUnreachable:
      return "DNS server unreachable";
    case LookupStatus::kBadResponse:
      return "malformed answer";
    case LookupStatus::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

bool is_transient(LookupStatus status) {
  switch (status) {
    case LookupStatus::kOk:
    case LookupStatus::kNoData:
    case LookupStatus::kNxDomain:
    case LookupStatus::kInvalidName:
      return false;
    default:
      return true;
  }
}

IpAddress IpAddress::v4(uint32_t host_order) {
  IpAddress a;
  a.family = AF_INET;
  a.bytes[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<uint8_t>(host_order);
  return a;
}

IpAddress IpAddress::v4_bytes(const uint8_t (&b)[4]) {
  IpAddress a;
  a.family = AF_INET;
  std::memcpy(a.bytes.data(), b, 4);
  return a;
}

IpAddress IpAddress::v6_bytes(const uint8_t (&b)[16]) {
  IpAddress a;
  a.family = AF_INET6;
  std::memcpy(a.bytes.data(), b, 16);
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, text.data(), text.size());
  IpAddress a;
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes.data(), buf, sizeof buf);
  return buf;
}

socklen_t IpAddress::to_sockaddr(uint16_t port, sockaddr_storage* out) const {
  std::memset(out, 0, sizeof *out);
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

std::optional<std::string> normalize_domain(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return std::nullopt;
  std::string out;
  out.reserve(name.size());
  std::size_t label_len = 0;
  bool label_numeric = true;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (label_len == 0 || label_len > 63) return std::nullopt;
      if (out[out.size() - 1] == '-' || out[out.size() - label_len] == '-') return std::nullopt;
      if (i == name.size() && label_numeric) return std::nullopt;  // IP literal or numeric TLD
      if (i < name.size()) out.push_back('.');
      label_len = 0;
      label_numeric = true;
      continue;
    }
    const char c = lower(name[i]);
    bool digit = c >= '0' && c <= '9';
    if (!(digit || (c >= 'a' && c <= 'z') || c == '-' || c == '_')) return std::nullopt;
    if (!digit) label_numeric = false;
    out.push_back(c);
    ++label_len;
  }
  return out;
}

DnsFailure transient_dns_failure(std::string text) {
  return DnsFailure{false, "4.4.3", std::move(text)};
}

namespace {

DnsFailure permanent(const char* code, std::string text) {
  return DnsFailure{true, code, std::move(text)};
}

// splitmix64: a tiny deterministic generator for the tie shuffle.
uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

bool is_root_target(std::string_view host) {
  return host.empty() || host == ".";
}

}  // namespace

Destination choose_destination(std::string_view domain, const MxOutcome& mx, uint64_t random,
                               const PolicyOptions& options) {
  Destination d;
  std::optional<std::string> self = normalize_domain(domain);
  if (!self) {
    d.failure = permanent("5.1.2", "invalid domain name");
    return d;
  }
  switch (mx.status) {
    case LookupStatus::kOk:
      break;
    case LookupStatus::kNoData:
      d.implicit_mx = true;
      d.hosts.push_back(MxHost{*self, 0});
      return d;
    case LookupStatus::kNxDomain:
      d.failure = permanent("5.1.2", "domain does not exist");
      return d;
    case LookupStatus::kInvalidName:
      d.failure = permanent("5.1.2", "invalid domain name");
      return d;
    default:
      d.failure = transient_dns_failure(std::string("DNS lookup failed, will retry (MX: ") +
                                        to_string(mx.status) + ")");
      return d;
  }
  if (mx.records.empty()) {  // kOk without records: treat as NODATA
    d.implicit_mx = true;
    d.hosts.push_back(MxHost{*self, 0});
    return d;
  }
  // RFC 7505 §3: a null MX is the only MX record, target the root. Among other records it is
  // invalid and skipped like any other bad target.
  if (mx.records.size() == 1 && is_root_target(mx.records[0].host)) {
    d.failure = permanent("5.1.10", "domain accepts no mail (null MX)");
    return d;
  }
  std::size_t considered = std::min(mx.records.size(), options.max_mx_records);
  std::vector<MxHost> hosts;
  for (std::size_t i = 0; i < considered; ++i) {
    const MxRecord& r = mx.records[i];
    if (is_root_target(r.host)) continue;
    std::optional<std::string> name = normalize_domain(r.host);
    if (!name) continue;
    auto same =
        std::find_if(hosts.begin(), hosts.end(), [&](const MxHost& h) { return h.name == *name; });
    if (same != hosts.end()) {
      same->preference = std::min(same->preference, r.preference);
      continue;
    }
    hosts.push_back(MxHost{std::move(*name), r.preference});
  }
  if (hosts.empty()) {
    d.failure = permanent("5.4.4", "MX records point at invalid host names");
    return d;
  }
  // Sort by name first so the shuffle depends only on the record set and `random`, not on the
  // order the server happened to send.
  std::sort(hosts.begin(), hosts.end(), [](const MxHost& a, const MxHost& b) {
    return a.preference != b.preference ? a.preference < b.preference : a.name < b.name;
  });
  uint64_t state = random;
  for (std::size_t begin = 0; begin < hosts.size();) {
    std::size_t end = begin + 1;
    while (end < hosts.size() && hosts[end].preference == hosts[begin].preference) ++end;
    for (std::size_t i = end - 1; i > begin; --i) {  // Fisher-Yates within [begin, end)
      std::size_t j = begin + next_random(state) % (i - begin + 1);
      std::swap(hosts[i], hosts[j]);
    }
    begin = end;
  }
  d.hosts = std::move(hosts);
  return d;
}

const char* refuse_reason(const IpAddress& address, const PolicyOptions& options) {
  IpAddress a = address;
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (a.family == AF_INET6 && std::memcmp(a.bytes.data(), kMappedPrefix, 12) == 0) {
    IpAddress v4;  // ::ffff:a.b.c.d is judged as a.b.c.d
    v4.family = AF_INET;
    std::memcpy(v4.bytes.data(), a.bytes.data() + 12, 4);
    a = v4;
  }
  bool loopback = false;
  if (a.family == AF_INET) {
    const uint8_t* b = a.bytes.data();
    if (b[0] == 0) return "unspecified address";
    if (b[0] == 169 && b[1] == 254) return "link-local address";
    if (b[0] >= 224 && b[0] <= 239) return "multicast address";
    if (b[0] >= 240) return "reserved or broadcast address";
    loopback = b[0] == 127;
  } else {
    static constexpr uint8_t kZero[16] = {};
    const uint8_t* b = a.bytes.data();
    if (std::memcmp(b, kZero, 16) == 0) return "unspecified address";
    if (b[0] == 0xff) return "multicast address";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local address";
    loopback = std::memcmp(b, kZero, 15) == 0 && b[15] == 1;
  }
  if (options.allow_loopback) return nullptr;
  if (loopback) return "loopback address";
  for (const IpAddress& own : options.own_addresses) {
    if (own == a || own == address) return "one of our own addresses";
  }
  return nullptr;
}

std::vector<IpAddress> order_addresses(const AddressOutcome& addresses,
                                       const PolicyOptions& options, std::size_t* refused) {
  std::vector<IpAddress> v4, v6;
  std::size_t refused_count = 0;
  auto take = [&](const std::vector<AddressRecord>& from, std::vector<IpAddress>& to) {
    for (const AddressRecord& r : from) {
      if (refuse_reason(r.address, options) != nullptr) {
        ++refused_count;
        continue;
      }
      if (std::find(to.begin(), to.end(), r.address) == to.end()) to.push_back(r.address);
    }
  };
  if (options.order != AddressOrder::kIpv6Only) take(addresses.v4, v4);
  if (options.order != AddressOrder::kIpv4Only) take(addresses.v6, v6);
  if (refused != nullptr) *refused = refused_count;
  std::vector<IpAddress> out;
  out.reserve(v4.size() + v6.size());
  switch (options.order) {
    case AddressOrder::kIpv4First:
    case AddressOrder::kIpv4Only:
    case AddressOrder::kIpv6Only:
      out = std::move(v4);
      out.insert(out.end(), v6.begin(), v6.end());
      break;
    case AddressOrder::kIpv6First:
      out = std::move(v6);
      out.insert(out.end(), v4.begin(), v4.end());
      break;
    case AddressOrder::kInterleaved:
      for (std::size_t i = 0; i < std::max(v4.size(), v6.size()); ++i) {
        if (i < v6.size()) out.push_back(v6[i]);
        if (i < v4.size()) out.push_back(v4[i]);
      }
      break;
  }
  return out;
}

DestinationAddresses build_candidates(const Destination& destination,
                                      const std::vector<AddressOutcome>& per_host,
                                      const PolicyOptions& options) {
  DestinationAddresses out;
  out.implicit_mx = destination.implicit_mx;
  if (!destination.ok()) {
    out.failure = destination.failure;
    return out;
  }
  bool any_refused_only = false;
  bool any_transient = false;
  std::string refused_host;
  std::size_t n = std::min(destination.hosts.size(), per_host.size());
  for (std::size_t i = 0; i < n; ++i) {
    const MxHost& host = destination.hosts[i];
    const AddressOutcome& a = per_host[i];
    std::size_t refused = 0;
    std::vector<IpAddress> usable = order_addresses(a, options, &refused);
    // A family's lookup failure only matters if we would have used that family.
    bool v4_wanted = options.order != AddressOrder::kIpv6Only;
    bool v6_wanted = options.order != AddressOrder::kIpv4Only;
    bool transient =
        (v4_wanted && is_transient(a.v4_status)) || (v6_wanted && is_transient(a.v6_status));
    if (usable.empty()) {
      if (refused > 0) {
        any_refused_only = true;
        if (refused_host.empty()) refused_host = host.name;
        out.notes.push_back(host.name + ": only loopback/own/unusable addresses");
      } else if (transient) {
        any_transient = true;
        out.notes.push_back(host.name + ": address lookup failed (A: " + to_string(a.v4_status) +
                            ", AAAA: " + to_string(a.v6_status) + ")");
      } else {
        out.notes.push_back(host.name + ": no addresses");
      }
      continue;
    }
    if (transient) out.notes.push_back(host.name + ": partial address lookup failure");
    for (IpAddress& address : usable) {
      out.candidates.push_back(Candidate{host.name, host.preference, address});
    }
  }
  if (!out.candidates.empty()) return out;
  if (any_refused_only) {
    out.failure = permanent("5.4.6", "MX points at ourselves/loopback (" + refused_host + ")");
  } else if (any_transient || n == 0) {
    out.failure = transient_dns_failure("DNS lookup failed, will retry (MX host addresses)");
  } else if (destination.implicit_mx) {
    out.failure = permanent("5.1.2", "domain has no MX, A or AAAA records");
  } else {
    out.failure = permanent("5.4.4", "no MX host has an address");
  }
  return out;
}

}  // namespace ringmta::dns
