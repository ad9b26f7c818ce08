// DNS message parsing (RFC 1035 §4) for the resolver: a small bounded parser for the answers c-ares
// hands us, because c-ares 1.18's ares_parse_mx_reply drops the TTLs we need for caching, and its
// NXDOMAIN/NODATA answers carry the SOA whose minimum sets the negative-cache time (RFC 2308).
//
// Bounded: input up to 65535 bytes, compression pointers must point strictly backwards (so every
// name terminates), names at most 255 bytes, only A, AAAA, MX, CNAME, SOA, TXT and PTR records
// are kept.
// It may not allocate in proportion to anything but the input, do I/O, or trust any count field.
// Fuzzed by tests/fuzz/fuzz_dns_message.cc.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/mx_policy.h"
#include "util/result.h"

namespace ringmta::dns {

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeCname = 5;
inline constexpr uint16_t kTypeSoa = 6;
inline constexpr uint16_t kTypePtr = 12;
inline constexpr uint16_t kTypeMx = 15;
inline constexpr uint16_t kTypeTxt = 16;
inline constexpr uint16_t kTypeAaaa = 28;
inline constexpr uint16_t kClassIn = 1;

struct DnsRecord {
  std::string owner;  // lower case, no trailing dot; bytes outside [a-z0-9_-] escaped as \DDD
  uint16_t type = 0;
  uint16_t klass = 0;
  uint32_t ttl = 0;                   // RFC 2181 §8: a value with the top bit set is read as 0
  uint16_t preference = 0;            // MX
  std::string target;                 // MX exchange, CNAME target, SOA MNAME, PTR name
  std::string text;                   // TXT: its character-strings joined (RFC 7208 §3.3)
  std::array<uint8_t, 16> address{};  // A (first 4 bytes) or AAAA
  uint32_t soa_minimum = 0;           // SOA
};

struct DnsMessage {
  uint16_t id = 0;
  bool response = false;
  bool truncated = false;
  uint8_t rcode = 0;
  std::string qname;  // the first question (lower case, no trailing dot)
  uint16_t qtype = 0;
  std::vector<DnsRecord> answers;    // kept types only
  std::vector<DnsRecord> authority;  // kept types only (SOA is the one that matters)
};

Result<DnsMessage> parse_dns_message(const uint8_t* data, std::size_t len);

// What an answer means for a query (qname, qtype): CNAMEs from qname are followed (at most 16),
// records of qtype owned by a name on that chain are kept. `ttl` is the smallest TTL involved
// (records and CNAMEs) for kOk; for kNoData/kNxDomain it is RFC 2308's min(SOA TTL, SOA minimum)
// if the authority section holds a SOA, else nullopt (the caller's default applies).
struct Interpretation {
  LookupStatus status = LookupStatus::kBadResponse;
  std::vector<DnsRecord> records;
  std::optional<uint32_t> ttl;
};

Interpretation interpret_answer(const DnsMessage& message, std::string_view qname, uint16_t qtype);

// The same, from raw bytes, as the resolver's MX and address lookups need it.
MxOutcome mx_outcome_from_answer(const uint8_t* data, std::size_t len, std::string_view qname,
                                 uint32_t default_negative_ttl);

struct FamilyOutcome {
  LookupStatus status = LookupStatus::kBadResponse;
  std::vector<AddressRecord> records;
  uint32_t ttl = 0;
};
FamilyOutcome address_outcome_from_answer(const uint8_t* data, std::size_t len,
                                          std::string_view qname, uint16_t qtype,
                                          uint32_t default_negative_ttl);

// The reverse-lookup name of an address: "4.3.2.1.in-addr.arpa", nibbles ".ip6.arpa" for IPv6.
std::string reverse_name(const IpAddress& address);

// TXT records (texts: each record's strings joined) or PTR records (texts: the names) of qname.
struct TextOutcome {
  LookupStatus status = LookupStatus::kBadResponse;
  std::vector<std::string> texts;
  uint32_t ttl = 0;
  std::string detail;
};
TextOutcome text_outcome_from_answer(const uint8_t* data, std::size_t len, std::string_view qname,
                                     uint16_t qtype, uint32_t default_negative_ttl);

}  // namespace ringmta::dns
