// MX policy: RFC 5321 §5.1 and RFC 7505 as pure functions. Given what DNS said about a domain (MX
// records, NODATA, NXDOMAIN, a failure) it decides where mail for that domain goes; given what DNS
// said about each MX host (A and AAAA) it produces the ordered list of addresses to try.
//
// Sans-I/O: no sockets, no clock, no global random state (the caller supplies a random value), so
// every rule is unit-tested with plain values. It may not resolve names or cache anything.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringmta::dns {

// How one DNS query ended. Everything below kNxDomain is transient (retry later, never fall back
// to A records); kInvalidName is permanent (the name can never resolve).
enum class LookupStatus {
  kOk,           // records of the asked type (after following CNAMEs)
  kNoData,       // the name exists but has no record of the asked type
  kNxDomain,     // the name does not exist
  kInvalidName,  // not a syntactically valid domain name; nothing was sent
  kServFail,     // SERVFAIL, or every server refused/failed
  kRefused,      // REFUSED
  kTimeout,      // no answer in time from any server
  kUnreachable,  // connection refused / network error talking to the servers
  kBadResponse,  // an answer we could not parse or that did not match the question
  kCancelled,    // the resolver was shut down
};

const char* to_string(LookupStatus status);
// True for the statuses that mean "ask again later" (SERVFAIL, timeout, ...).
bool is_transient(LookupStatus status);

struct MxRecord {
  uint16_t preference = 0;
  std::string host;  // as received; normalised by choose_destination
  uint32_t ttl = 0;
};

// The outcome of one MX query (lookup_mx).
struct MxOutcome {
  LookupStatus status = LookupStatus::kServFail;
  std::vector<MxRecord> records;  // kOk only
  uint32_t ttl = 0;               // how long this outcome may be cached (seconds, before clamps)
  std::string detail;             // for logs, e.g. the c-ares error text
};

// An IPv4 or IPv6 address (network byte order).
struct IpAddress {
  int family = AF_INET;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};

  static IpAddress v4(uint32_t host_order);
  static IpAddress v4_bytes(const uint8_t (&b)[4]);
  static IpAddress v6_bytes(const uint8_t (&b)[16]);
  // Parses "192.0.2.1" or "2001:db8::1" (no brackets, no port).
  static std::optional<IpAddress> parse(std::string_view text);
  std::string to_string() const;
  // A sockaddr_in / sockaddr_in6 for connect(); returns its length.
  socklen_t to_sockaddr(uint16_t port, sockaddr_storage* out) const;
  bool operator==(const IpAddress& other) const = default;
};

struct AddressRecord {
  IpAddress address;
  uint32_t ttl = 0;
};

// The outcome of a host's A and AAAA queries (lookup_addresses).
struct AddressOutcome {
  LookupStatus v4_status = LookupStatus::kServFail;
  LookupStatus v6_status = LookupStatus::kServFail;
  std::vector<AddressRecord> v4;  // A records, in answer order
  std::vector<AddressRecord> v6;  // AAAA records, in answer order
};

// Why a domain cannot be delivered to now (transient) or ever (permanent).
struct DnsFailure {
  bool permanent = false;
  std::string enhanced_code;  // RFC 3463, e.g. "5.1.2"
  std::string text;           // for the log and the DSN, e.g. "domain does not exist"
};

struct MxHost {
  std::string name;  // lower case, no trailing dot
  uint16_t preference = 0;
};

// Where mail for a domain goes: MX hosts in the order to try them, or a failure.
struct Destination {
  std::vector<MxHost> hosts;  // empty iff failure is set
  bool implicit_mx = false;   // no MX records: the domain itself (RFC 5321 §5.1)
  std::optional<DnsFailure> failure;
  bool ok() const { return !failure.has_value(); }
};

enum class AddressOrder {
  kIpv4First,    // all A addresses, then all AAAA (the default: IPv4 reputation is simpler)
  kIpv6First,    // all AAAA, then all A
  kInterleaved,  // AAAA, A, AAAA, A, ... (RFC 8305 style)
  kIpv4Only,
  kIpv6Only,
};

struct PolicyOptions {
  // Loopback and our own addresses are allowed as MX addresses (tests on 127.0.0.x use it).
  bool allow_loopback = false;
  // Addresses of this host (e.g. from local_addresses()); an MX resolving to one is a mail loop.
  std::vector<IpAddress> own_addresses;
  AddressOrder order = AddressOrder::kIpv4First;
  // At most this many MX records are considered (a hostile answer may hold thousands).
  std::size_t max_mx_records = 64;
};

// Step 1: what the MX lookup means (RFC 5321 §5.1, RFC 7505).
//   NXDOMAIN → permanent 5.1.2; a single MX whose target is the root ("0 .") → permanent 5.1.10;
//   NODATA → the domain itself (implicit MX); SERVFAIL/timeout/... → transient 4.4.3;
//   records → hosts by preference, equal preferences shuffled with `random` (the same value gives
//   the same order). Invalid target names (IP literals, bad characters) are skipped; if none is
//   left → permanent 5.4.4. A root target among other records is skipped. Duplicate hosts keep
//   their lowest preference.
Destination choose_destination(std::string_view domain, const MxOutcome& mx, uint64_t random,
                               const PolicyOptions& options = {});

// Why an address is unusable as an MX address, or nullptr if it is usable.
//   Always refused: unspecified (0.0.0.0/8, ::), multicast, broadcast, link-local, reserved 240/4.
//   Refused unless allow_loopback: loopback (127/8, ::1, ::ffff:127.x) and own_addresses.
const char* refuse_reason(const IpAddress& address, const PolicyOptions& options);

// Step 2 for one host: its usable addresses in the configured order (A and AAAA answers merged,
// duplicates removed). `refused` (if given) receives the count of addresses filtered out.
std::vector<IpAddress> order_addresses(const AddressOutcome& addresses,
                                       const PolicyOptions& options,
                                       std::size_t* refused = nullptr);

// One address to try: which MX host it belongs to and its preference.
struct Candidate {
  std::string host;
  uint16_t preference = 0;
  IpAddress address;
};

// The result of resolving a domain all the way: addresses in the order to try them, or a failure.
struct DestinationAddresses {
  std::vector<Candidate> candidates;  // empty iff failure is set
  bool implicit_mx = false;
  std::vector<std::string> notes;  // hosts skipped and why, for the log
  std::optional<DnsFailure> failure;
  bool ok() const { return !failure.has_value(); }
};

// Step 3: combines a Destination with the address outcomes of its first hosts (`per_host[i]`
// belongs to destination.hosts[i]; hosts beyond per_host.size() are not used).
//   Candidates: each host's usable addresses in host order. If there are none:
//   some host resolved only to refused addresses → permanent 5.4.6 "MX points at
//   ourselves/loopback"; else some lookup was transient → transient 4.4.3; else implicit MX
//   → permanent 5.1.2 (no MX, A or AAAA), explicit MX → permanent 5.4.4 (no MX host has an
//   address).
DestinationAddresses build_candidates(const Destination& destination,
                                      const std::vector<AddressOutcome>& per_host,
                                      const PolicyOptions& options);

// Lower-cases `name`, drops one trailing dot, and checks RFC 1035 syntax (labels 1..63 of
// letters, digits, '-' and '_', total <= 253). Returns nullopt for an invalid name or an IP
// literal (all-numeric last label).
std::optional<std::string> normalize_domain(std::string_view name);

// The failures used above, for callers that need to build one.
DnsFailure transient_dns_failure(std::string text);

}  // namespace ringmta::dns
