// Unit tests for dns/dns_message (the bounded answer parser and its interpretation: CNAME chains,
// NODATA vs NXDOMAIN, RFC 2308 negative TTLs, hostile compression) and dns/cache.h (TTL clamps,
// expiry, the size bound). No network.
#include "dns/dns_message.h"

#include <gtest/gtest.h>

#include "dns/cache.h"

namespace ringmta::dns {
namespace {

// Builds DNS answers byte by byte (names uncompressed unless a pointer is given).
class Builder {
 public:
  Builder(uint16_t flags, uint16_t an, uint16_t ns) {
    u16(0x1234);
    u16(flags);
    u16(1);
    u16(an);
    u16(ns);
    u16(0);
  }
  Builder& name(const std::string& n) {
    std::size_t start = 0;
    while (start < n.size()) {
      std::size_t dot = n.find('.', start);
      if (dot == std::string::npos) dot = n.size();
      b.push_back(static_cast<uint8_t>(dot - start));
      b.insert(b.end(), n.begin() + start, n.begin() + dot);
      start = dot + 1;
    }
    b.push_back(0);
    return *this;
  }
  Builder& pointer(uint16_t offset) {
    u16(static_cast<uint16_t>(0xC000 | offset));
    return *this;
  }
  Builder& question(const std::string& n, uint16_t type) {
    name(n);
    u16(type);
    u16(1);
    return *this;
  }
  // Header of a record; the caller appends rdlength and rdata.
  Builder& rr(const std::string& owner, uint16_t type, uint32_t ttl) {
    name(owner);
    u16(type);
    u16(1);
    u32(ttl);
    return *this;
  }
  Builder& mx(const std::string& owner, uint16_t pref, const std::string& target, uint32_t ttl) {
    rr(owner, kTypeMx, ttl);
    Builder tmp(0, 0, 0);
    tmp.b.clear();
    tmp.name(target);
    u16(static_cast<uint16_t>(tmp.b.size() + 2));
    u16(pref);
    b.insert(b.end(), tmp.b.begin(), tmp.b.end());
    return *this;
  }
  Builder& cname(const std::string& owner, const std::string& target, uint32_t ttl,
                 uint16_t type = kTypeCname) {
    rr(owner, type, ttl);
    Builder tmp(0, 0, 0);
    tmp.b.clear();
    tmp.name(target);
    u16(static_cast<uint16_t>(tmp.b.size()));
    b.insert(b.end(), tmp.b.begin(), tmp.b.end());
    return *this;
  }
  Builder& a(const std::string& owner, std::vector<uint8_t> ip, uint32_t ttl) {
    rr(owner, ip.size() == 4 ? kTypeA : kTypeAaaa, ttl);
    u16(static_cast<uint16_t>(ip.size()));
    b.insert(b.end(), ip.begin(), ip.end());
    return *this;
  }
  Builder& soa(const std::string& owner, uint32_t ttl, uint32_t minimum) {
    rr(owner, kTypeSoa, ttl);
    Builder tmp(0, 0, 0);
    tmp.b.clear();
    tmp.name("ns." + owner).name("hostmaster." + owner);
    for (uint32_t v : {1u, 2u, 3u, 4u, minimum}) tmp.u32(v);
    u16(static_cast<uint16_t>(tmp.b.size()));
    b.insert(b.end(), tmp.b.begin(), tmp.b.end());
    return *this;
  }
  void u16(uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  std::vector<uint8_t> b;
};

constexpr uint16_t kNoError = 0x8180;
constexpr uint16_t kNxDomain = 0x8183;
constexpr uint16_t kServFail = 0x8182;

MxOutcome mx_of(const Builder& m, const std::string& qname = "example.test") {
  return mx_outcome_from_answer(m.b.data(), m.b.size(), qname, 300);
}

TEST(DnsMessage, MxRecordsWithTtls) {
  Builder m(kNoError, 2, 0);
  m.question("example.test", kTypeMx)
      .mx("example.test", 10, "MX1.example.test", 3600)
      .mx("Example.Test", 20, "mx2.example.test", 600);
  MxOutcome o = mx_of(m);
  ASSERT_EQ(o.status, LookupStatus::kOk);
  ASSERT_EQ(o.records.size(), 2u);
  EXPECT_EQ(o.records[0].host, "mx1.example.test");
  EXPECT_EQ(o.records[0].preference, 10);
  EXPECT_EQ(o.records[0].ttl, 3600u);
  EXPECT_EQ(o.ttl, 600u);  // the smallest
}

TEST(DnsMessage, CompressedNames) {
  Builder m(kNoError, 1, 0);
  m.question("example.test", kTypeMx);  // the qname starts at offset 12
  m.pointer(12);                        // owner: example.test
  m.u16(kTypeMx);
  m.u16(1);
  m.u32(60);
  m.u16(2 + 4 + 2);
  m.u16(5);
  m.b.insert(m.b.end(), {3, 'm', 'x', '1'});
  m.pointer(12);  // mx1.example.test
  MxOutcome o = mx_of(m);
  ASSERT_EQ(o.status, LookupStatus::kOk);
  ASSERT_EQ(o.records.size(), 1u);
  EXPECT_EQ(o.records[0].host, "mx1.example.test");
}

TEST(DnsMessage, CompressionLoopsAndForwardPointersRefused) {
  for (uint16_t target : {uint16_t{29}, uint16_t{31}, uint16_t{500}}) {
    Builder m(kNoError, 1, 0);
    m.question("example.test", kTypeMx);  // ends at offset 30
    m.pointer(target);                    // owner at 30: points at itself, forward, or outside
    m.u16(kTypeMx);
    m.u16(1);
    m.u32(60);
    m.u16(4);
    m.u16(5);
    m.pointer(12);
    EXPECT_EQ(mx_of(m).status, LookupStatus::kBadResponse) << target;
  }
  // A pointer back into the same run of labels (a loop through labels) is refused too.
  Builder loop(kNoError, 0, 0);
  loop.b.push_back(1);
  loop.b.push_back('a');
  loop.pointer(12);  // "a" then back to "a": endless without the rule
  loop.u16(kTypeMx);
  loop.u16(1);
  EXPECT_FALSE(parse_dns_message(loop.b.data(), loop.b.size()).ok());
}

TEST(DnsMessage, CnameChainFollowed) {
  Builder m(kNoError, 3, 0);
  m.question("alias.test", kTypeA)
      .cname("alias.test", "middle.test", 100)
      .cname("middle.test", "real.test", 200)
      .a("real.test", {192, 0, 2, 1}, 50)
      .a("unrelated.test", {192, 0, 2, 9}, 50);
  FamilyOutcome o = address_outcome_from_answer(m.b.data(), m.b.size(), "alias.test", kTypeA, 300);
  ASSERT_EQ(o.status, LookupStatus::kOk);
  ASSERT_EQ(o.records.size(), 1u);
  EXPECT_EQ(o.records[0].address.to_string(), "192.0.2.1");
  EXPECT_EQ(o.ttl, 50u);
}

TEST(DnsMessage, CnameWithoutTargetDataIsNoData) {
  Builder m(kNoError, 1, 0);
  m.question("example.test", kTypeMx).cname("example.test", "elsewhere.test", 100);
  EXPECT_EQ(mx_of(m).status, LookupStatus::kNoData);
}

TEST(DnsMessage, CnameLoopEnds) {
  Builder m(kNoError, 2, 0);
  m.question("a.test", kTypeA).cname("a.test", "b.test", 1).cname("b.test", "a.test", 1);
  FamilyOutcome o = address_outcome_from_answer(m.b.data(), m.b.size(), "a.test", kTypeA, 300);
  EXPECT_EQ(o.status, LookupStatus::kNoData);
}

TEST(DnsMessage, NegativeTtlFromSoa) {
  Builder nx(kNxDomain, 0, 1);
  nx.question("example.test", kTypeMx).soa("test", 900, 120);
  MxOutcome o = mx_of(nx);
  EXPECT_EQ(o.status, LookupStatus::kNxDomain);
  EXPECT_EQ(o.ttl, 120u);  // min(SOA TTL, minimum)

  Builder nodata(kNoError, 0, 1);
  nodata.question("example.test", kTypeMx).soa("test", 60, 3600);
  o = mx_of(nodata);
  EXPECT_EQ(o.status, LookupStatus::kNoData);
  EXPECT_EQ(o.ttl, 60u);

  Builder nosoa(kNxDomain, 0, 0);
  nosoa.question("example.test", kTypeMx);
  EXPECT_EQ(mx_of(nosoa).ttl, 300u);  // the caller's default
}

TEST(DnsMessage, RcodesAndMismatches) {
  Builder sf(kServFail, 0, 0);
  sf.question("example.test", kTypeMx);
  EXPECT_EQ(mx_of(sf).status, LookupStatus::kServFail);
  Builder refused(0x8185, 0, 0);
  refused.question("example.test", kTypeMx);
  EXPECT_EQ(mx_of(refused).status, LookupStatus::kRefused);
  Builder other(kNoError, 1, 0);
  other.question("other.test", kTypeMx).mx("other.test", 1, "mx.other.test", 1);
  EXPECT_EQ(mx_of(other).status, LookupStatus::kBadResponse);  // not our question
  Builder query(0x0100, 0, 0);
  query.question("example.test", kTypeMx);
  EXPECT_EQ(mx_of(query).status, LookupStatus::kBadResponse);  // not a response
}

TEST(DnsMessage, NullMxTargetIsRoot) {
  Builder m(kNoError, 1, 0);
  m.question("example.test", kTypeMx).mx("example.test", 0, "", 300);
  MxOutcome o = mx_of(m);
  ASSERT_EQ(o.status, LookupStatus::kOk);
  ASSERT_EQ(o.records.size(), 1u);
  EXPECT_EQ(o.records[0].host, "");
  EXPECT_EQ(choose_destination("example.test", o, 0).failure->enhanced_code, "5.1.10");
}

TEST(DnsMessage, OddBytesInLabelsEscaped) {
  Builder m(kNoError, 1, 0);
  m.question("example.test", kTypeMx).mx("example.test", 10, "mx.example.test", 1);
  // Replace the 'x' of the target's first label with a '.': "m.\x2e" must not become two labels.
  std::size_t pos = m.b.size() - std::string("mx.example.test").size() - 2;  // its length byte
  m.b[pos + 2] = '.';
  MxOutcome o = mx_of(m);
  ASSERT_EQ(o.records.size(), 1u);
  EXPECT_EQ(o.records[0].host, "m\\046.example.test");
  EXPECT_FALSE(normalize_domain(o.records[0].host));
}

TEST(DnsMessage, TruncatedAndShortInputs) {
  Builder m(kNoError, 2, 0);
  m.question("example.test", kTypeMx)
      .mx("example.test", 10, "mx1.example.test", 1)
      .mx("example.test", 20, "mx2.example.test", 1);
  for (std::size_t len = 0; len < m.b.size(); ++len) {
    MxOutcome o = mx_outcome_from_answer(m.b.data(), len, "example.test", 300);
    EXPECT_NE(o.status, LookupStatus::kOk) << len;
  }
  // With TC set, a record cut short ends the parse without an error.
  Builder tc(kNoError | 0x0200, 2, 0);
  tc.question("example.test", kTypeMx)
      .mx("example.test", 10, "mx1.example.test", 1)
      .mx("example.test", 20, "mx2.example.test", 1);
  auto parsed = parse_dns_message(tc.b.data(), tc.b.size() - 3);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->truncated);
  EXPECT_EQ(parsed->answers.size(), 1u);
}

TEST(DnsMessage, HighBitTtlReadAsZero) {
  Builder m(kNoError, 1, 0);
  m.question("example.test", kTypeMx).mx("example.test", 10, "mx.example.test", 0x80000001u);
  EXPECT_EQ(mx_of(m).records[0].ttl, 0u);
}

TEST(DnsMessage, WrongRdataLengthsRefused) {
  Builder m(kNoError, 1, 0);
  m.question("h.test", kTypeA).rr("h.test", kTypeA, 1);
  m.u16(5);
  m.b.insert(m.b.end(), {1, 2, 3, 4, 5});
  EXPECT_EQ(address_outcome_from_answer(m.b.data(), m.b.size(), "h.test", kTypeA, 1).status,
            LookupStatus::kBadResponse);
}

TEST(DnsMessage, TxtStringsJoinedAndPtrNames) {
  Builder m(kNoError, 2, 0);
  m.question("_dmarc.example.test", kTypeTxt);
  m.rr("_dmarc.example.test", kTypeTxt, 300);
  const std::string first = "v=DMARC1; p=reject; ", second = "rua=mailto:d@example.test";
  m.u16(static_cast<uint16_t>(first.size() + second.size() + 2));
  m.b.push_back(static_cast<uint8_t>(first.size()));
  m.b.insert(m.b.end(), first.begin(), first.end());
  m.b.push_back(static_cast<uint8_t>(second.size()));
  m.b.insert(m.b.end(), second.begin(), second.end());
  m.rr("_dmarc.example.test", kTypeTxt, 300);
  m.u16(1);
  m.b.push_back(0);  // one empty string
  TextOutcome o =
      text_outcome_from_answer(m.b.data(), m.b.size(), "_dmarc.example.test", kTypeTxt, 60);
  ASSERT_EQ(o.status, LookupStatus::kOk);
  EXPECT_EQ(o.texts, (std::vector<std::string>{first + second, ""}));
  // A string longer than its record: refused.
  Builder bad(kNoError, 1, 0);
  bad.question("x.test", kTypeTxt);
  bad.rr("x.test", kTypeTxt, 300);
  bad.u16(3);
  bad.b.push_back(5);
  bad.b.push_back('a');
  bad.b.push_back('b');
  EXPECT_EQ(text_outcome_from_answer(bad.b.data(), bad.b.size(), "x.test", kTypeTxt, 60).status,
            LookupStatus::kBadResponse);

  Builder ptr(kNoError, 1, 0);
  ptr.question("1.2.0.192.in-addr.arpa", kTypePtr);
  ptr.cname("1.2.0.192.in-addr.arpa", "mail.example.test", 300, kTypePtr);  // a name as rdata
  TextOutcome names =
      text_outcome_from_answer(ptr.b.data(), ptr.b.size(), "1.2.0.192.in-addr.arpa", kTypePtr, 60);
  ASSERT_EQ(names.status, LookupStatus::kOk);
  EXPECT_EQ(names.texts, std::vector<std::string>{"mail.example.test"});
}

TEST(DnsMessage, ReverseNames) {
  EXPECT_EQ(reverse_name(*IpAddress::parse("192.0.2.1")), "1.2.0.192.in-addr.arpa");
  EXPECT_EQ(reverse_name(*IpAddress::parse("2001:db8::567:89ab")),
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
}

TEST(DnsCache, TtlRules) {
  CacheTtls t;  // min 60, max 86400, negative default 300 / max 3600, failures 30
  EXPECT_EQ(cache_seconds(LookupStatus::kOk, 0, t), 60u);
  EXPECT_EQ(cache_seconds(LookupStatus::kOk, 3600, t), 3600u);
  EXPECT_EQ(cache_seconds(LookupStatus::kOk, 10'000'000, t), 86400u);
  EXPECT_EQ(cache_seconds(LookupStatus::kNxDomain, 120, t), 120u);
  EXPECT_EQ(cache_seconds(LookupStatus::kNoData, 86400, t), 3600u);
  EXPECT_EQ(cache_seconds(LookupStatus::kNoData, 0, t), 60u);
  EXPECT_EQ(cache_seconds(LookupStatus::kServFail, 9999, t), 30u);
  EXPECT_EQ(cache_seconds(LookupStatus::kTimeout, 0, t), 30u);
  EXPECT_EQ(cache_seconds(LookupStatus::kCancelled, 100, t), 0u);
  EXPECT_EQ(cache_seconds(LookupStatus::kInvalidName, 100, t), 0u);
  t.failure_ttl = 0;
  EXPECT_EQ(cache_seconds(LookupStatus::kServFail, 0, t), 0u);
}

TEST(DnsCache, ExpiresAtTheTtl) {
  TtlCache<int> c(100);
  c.insert("a", 1, 60, 1000);
  ASSERT_NE(c.find("a", 1000), nullptr);
  EXPECT_EQ(*c.find("a", 60'999), 1);
  EXPECT_EQ(c.find("a", 61'000), nullptr);
  EXPECT_EQ(c.size(), 0u);
  c.insert("b", 2, 0, 0);  // 0 s: not cached
  EXPECT_EQ(c.find("b", 0), nullptr);
  c.insert("c", 3, 10, 0);
  c.insert("c", 4, 10, 5000);  // replaced, new expiry
  EXPECT_EQ(*c.find("c", 14'000), 4);
}

TEST(DnsCache, SizeIsBounded) {
  TtlCache<int> c(100);
  for (int i = 0; i < 10'000; ++i) c.insert("k" + std::to_string(i), i, 3600, i);
  EXPECT_LE(c.size(), 100u);
  EXPECT_NE(c.find("k9999", 10'000), nullptr);  // the newest survive
  EXPECT_EQ(c.find("k0", 10'000), nullptr);
  // Expired entries go first.
  TtlCache<int> d(10);
  for (int i = 0; i < 5; ++i) d.insert("old" + std::to_string(i), i, 1, 0);
  for (int i = 0; i < 5; ++i) d.insert("new" + std::to_string(i), i, 100, 0);
  d.insert("late", 1, 100, 5000);
  EXPECT_EQ(d.size(), 6u);
  EXPECT_NE(d.find("new0", 5000), nullptr);
  // Re-inserting the same keys forever does not grow anything.
  TtlCache<int> e(10);
  for (int i = 0; i < 100'000; ++i) e.insert("x" + std::to_string(i % 5), i, 1, i * 2000);
  EXPECT_LE(e.size(), 5u);
}

}  // namespace
}  // namespace ringmta::dns
