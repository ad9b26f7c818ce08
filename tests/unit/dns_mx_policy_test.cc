// Unit tests for dns/mx_policy: every RFC 5321 §5.1 / RFC 7505 rule and the address filtering and
// ordering, with plain values (no network). They may not open sockets.
#include <gtest/gtest.h>

#include <set>

#include "dns/mx_policy.h"

namespace ringmta::dns {
namespace {

MxOutcome records(std::vector<MxRecord> r) {
  MxOutcome o;
  o.status = LookupStatus::kOk;
  o.records = std::move(r);
  return o;
}

MxOutcome status(LookupStatus s) {
  MxOutcome o;
  o.status = s;
  return o;
}

IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

AddressOutcome addrs(std::vector<const char*> list) {
  AddressOutcome a;
  a.v4_status = LookupStatus::kNoData;
  a.v6_status = LookupStatus::kNoData;
  for (const char* t : list) {
    IpAddress x = ip(t);
    if (x.family == AF_INET) {
      a.v4.push_back({x, 300});
      a.v4_status = LookupStatus::kOk;
    } else {
      a.v6.push_back({x, 300});
      a.v6_status = LookupStatus::kOk;
    }
  }
  return a;
}

std::vector<std::string> names(const Destination& d) {
  std::vector<std::string> out;
  for (const MxHost& h : d.hosts) out.push_back(h.name);
  return out;
}

TEST(MxPolicy, PreferenceOrder) {
  Destination d = choose_destination("Example.TEST.",
                                     records({{20, "mx2.example.test.", 60},
                                              {10, "MX1.example.test", 60},
                                              {30, "mx3.example.test", 60}}),
                                     1);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d.implicit_mx);
  EXPECT_EQ(names(d),
            (std::vector<std::string>{"mx1.example.test", "mx2.example.test", "mx3.example.test"}));
  EXPECT_EQ(d.hosts[0].preference, 10);
}

TEST(MxPolicy, EqualPreferencesShuffledDeterministically) {
  MxOutcome mx = records({{10, "a.test", 1},
                          {10, "b.test", 1},
                          {10, "c.test", 1},
                          {5, "z.test", 1},
                          {20, "last.test", 1}});
  std::set<std::string> firsts_after_z;
  for (uint64_t r = 0; r < 200; ++r) {
    Destination d = choose_destination("example.test", mx, r);
    ASSERT_EQ(d.hosts.size(), 5u);
    EXPECT_EQ(d.hosts[0].name, "z.test");
    EXPECT_EQ(d.hosts[4].name, "last.test");
    std::set<std::string> middle{d.hosts[1].name, d.hosts[2].name, d.hosts[3].name};
    EXPECT_EQ(middle, (std::set<std::string>{"a.test", "b.test", "c.test"}));
    firsts_after_z.insert(d.hosts[1].name);
    // The same random value gives the same order whatever order the records arrived in.
    MxOutcome reversed = mx;
    std::reverse(reversed.records.begin(), reversed.records.end());
    EXPECT_EQ(names(choose_destination("example.test", reversed, r)), names(d));
  }
  EXPECT_EQ(firsts_after_z.size(), 3u);  // every equal-preference host comes first sometimes
}

TEST(MxPolicy, NoDataMeansImplicitMx) {
  Destination d = choose_destination("Example.test", status(LookupStatus::kNoData), 0);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d.implicit_mx);
  EXPECT_EQ(names(d), std::vector<std::string>{"example.test"});
}

TEST(MxPolicy, NxDomainIsPermanent512) {
  Destination d = choose_destination("nope.test", status(LookupStatus::kNxDomain), 0);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.failure->permanent);
  EXPECT_EQ(d.failure->enhanced_code, "5.1.2");
  EXPECT_EQ(d.failure->text, "domain does not exist");
  EXPECT_TRUE(d.hosts.empty());
}

TEST(MxPolicy, NullMxIsPermanent5110) {
  for (const char* root : {".", ""}) {
    Destination d = choose_destination("example.test", records({{0, root, 300}}), 0);
    ASSERT_FALSE(d.ok());
    EXPECT_TRUE(d.failure->permanent);
    EXPECT_EQ(d.failure->enhanced_code, "5.1.10");
    EXPECT_EQ(d.failure->text, "domain accepts no mail (null MX)");
  }
}

TEST(MxPolicy, RootTargetAmongOthersIsSkipped) {
  Destination d =
      choose_destination("example.test", records({{0, ".", 300}, {10, "mx.example.test", 300}}), 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(names(d), std::vector<std::string>{"mx.example.test"});
}

TEST(MxPolicy, TransientFailuresNeverFallBackToA) {
  for (LookupStatus s :
       {LookupStatus::kServFail, LookupStatus::kTimeout, LookupStatus::kRefused,
        LookupStatus::kUnreachable, LookupStatus::kBadResponse, LookupStatus::kCancelled}) {
    Destination d = choose_destination("example.test", status(s), 0);
    ASSERT_FALSE(d.ok()) << to_string(s);
    EXPECT_FALSE(d.failure->permanent);
    EXPECT_EQ(d.failure->enhanced_code, "4.4.3");
    EXPECT_NE(d.failure->text.find("DNS lookup failed, will retry"), std::string::npos);
    EXPECT_FALSE(d.implicit_mx);
    EXPECT_TRUE(d.hosts.empty());
  }
}

TEST(MxPolicy, InvalidTargetsSkippedAndAllInvalidIsPermanent) {
  Destination d = choose_destination(
      "example.test",
      records({{5, "192.0.2.1", 1}, {10, "bad host.test", 1}, {20, "good.test", 1}}), 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(names(d), std::vector<std::string>{"good.test"});

  Destination bad =
      choose_destination("example.test", records({{5, "192.0.2.1", 1}, {10, "-x.test", 1}}), 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.failure->permanent);
  EXPECT_EQ(bad.failure->enhanced_code, "5.4.4");
}

TEST(MxPolicy, DuplicateHostsKeepLowestPreference) {
  Destination d = choose_destination(
      "example.test", records({{30, "a.test", 1}, {10, "b.test", 1}, {5, "A.test.", 1}}), 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(names(d), (std::vector<std::string>{"a.test", "b.test"}));
  EXPECT_EQ(d.hosts[0].preference, 5);
}

TEST(MxPolicy, HostileRecordCountIsCapped) {
  std::vector<MxRecord> many;
  for (int i = 0; i < 1000; ++i) many.push_back({10, "mx" + std::to_string(i) + ".test", 1});
  Destination d = choose_destination("example.test", records(many), 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.hosts.size(), 64u);
}

TEST(MxPolicy, InvalidDomainIsPermanent) {
  Destination d = choose_destination("bad..test", records({{10, "mx.test", 1}}), 0);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.failure->permanent);
  EXPECT_EQ(d.failure->enhanced_code, "5.1.2");
}

TEST(MxPolicy, NormalizeDomain) {
  EXPECT_EQ(normalize_domain("Mail.Example.ORG."), "mail.example.org");
  EXPECT_EQ(normalize_domain("_dmarc.example.org"), "_dmarc.example.org");
  EXPECT_EQ(normalize_domain("3com.com"), "3com.com");
  EXPECT_FALSE(normalize_domain(""));
  EXPECT_FALSE(normalize_domain("."));
  EXPECT_FALSE(normalize_domain("a..b"));
  EXPECT_FALSE(normalize_domain("10.0.0.1"));
  EXPECT_FALSE(normalize_domain("-a.test"));
  EXPECT_FALSE(normalize_domain("a-.test"));
  EXPECT_FALSE(normalize_domain("a b.test"));
  // Built with append, not operator+: GCC 12 at -O2 warns (-Warray-bounds) on a temporary +
  // literal.
  const auto with_label = [](std::size_t length) {
    return std::string(length, 'a').append(".test");
  };
  EXPECT_FALSE(normalize_domain(with_label(64)));
  EXPECT_TRUE(normalize_domain(with_label(63)));
  std::string long_name;
  for (int i = 0; i < 60; ++i) long_name += "abcd.";
  long_name += "test";  // 304 characters
  EXPECT_FALSE(normalize_domain(long_name));
}

TEST(MxPolicy, RefuseReasons) {
  PolicyOptions o;
  EXPECT_EQ(refuse_reason(ip("192.0.2.1"), o), nullptr);
  EXPECT_EQ(refuse_reason(ip("2001:db8::1"), o), nullptr);
  EXPECT_STREQ(refuse_reason(ip("127.0.0.1"), o), "loopback address");
  EXPECT_STREQ(refuse_reason(ip("127.3.4.5"), o), "loopback address");
  EXPECT_STREQ(refuse_reason(ip("::1"), o), "loopback address");
  EXPECT_STREQ(refuse_reason(ip("::ffff:127.0.0.1"), o), "loopback address");
  EXPECT_STREQ(refuse_reason(ip("0.0.0.0"), o), "unspecified address");
  EXPECT_STREQ(refuse_reason(ip("::"), o), "unspecified address");
  EXPECT_STREQ(refuse_reason(ip("169.254.1.1"), o), "link-local address");
  EXPECT_STREQ(refuse_reason(ip("fe80::1"), o), "link-local address");
  EXPECT_STREQ(refuse_reason(ip("224.0.0.1"), o), "multicast address");
  EXPECT_STREQ(refuse_reason(ip("255.255.255.255"), o), "reserved or broadcast address");
  o.own_addresses = {ip("198.51.100.7")};
  EXPECT_STREQ(refuse_reason(ip("198.51.100.7"), o), "one of our own addresses");
  EXPECT_STREQ(refuse_reason(ip("::ffff:198.51.100.7"), o), "one of our own addresses");
  o.allow_loopback = true;
  EXPECT_EQ(refuse_reason(ip("127.0.0.1"), o), nullptr);
  EXPECT_EQ(refuse_reason(ip("::1"), o), nullptr);
  EXPECT_EQ(refuse_reason(ip("198.51.100.7"), o), nullptr);
  EXPECT_STREQ(refuse_reason(ip("0.0.0.0"), o), "unspecified address");  // never usable
}

std::vector<std::string> strs(const std::vector<IpAddress>& v) {
  std::vector<std::string> out;
  for (const IpAddress& a : v) out.push_back(a.to_string());
  return out;
}

TEST(MxPolicy, AddressOrder) {
  AddressOutcome a =
      addrs({"2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2", "192.0.2.3", "192.0.2.1"});
  PolicyOptions o;
  EXPECT_EQ(strs(order_addresses(a, o)),
            (std::vector<std::string>{"192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1",
                                      "2001:db8::2"}));
  o.order = AddressOrder::kIpv6First;
  EXPECT_EQ(strs(order_addresses(a, o)),
            (std::vector<std::string>{"2001:db8::1", "2001:db8::2", "192.0.2.1", "192.0.2.2",
                                      "192.0.2.3"}));
  o.order = AddressOrder::kInterleaved;
  EXPECT_EQ(strs(order_addresses(a, o)),
            (std::vector<std::string>{"2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2",
                                      "192.0.2.3"}));
  o.order = AddressOrder::kIpv4Only;
  EXPECT_EQ(strs(order_addresses(a, o)),
            (std::vector<std::string>{"192.0.2.1", "192.0.2.2", "192.0.2.3"}));
  o.order = AddressOrder::kIpv6Only;
  EXPECT_EQ(strs(order_addresses(a, o)), (std::vector<std::string>{"2001:db8::1", "2001:db8::2"}));
}

TEST(MxPolicy, AddressFilteringCountsRefused) {
  PolicyOptions o;
  std::size_t refused = 0;
  auto v = order_addresses(addrs({"127.0.0.1", "192.0.2.9", "::1", "fe80::5"}), o, &refused);
  EXPECT_EQ(strs(v), std::vector<std::string>{"192.0.2.9"});
  EXPECT_EQ(refused, 3u);
}

Destination two_hosts() {
  return choose_destination("example.test",
                            records({{10, "mx1.example.test", 1}, {20, "mx2.example.test", 1}}), 0);
}

TEST(MxPolicy, CandidatesInHostOrder) {
  PolicyOptions o;
  DestinationAddresses r =
      build_candidates(two_hosts(), {addrs({"192.0.2.1", "2001:db8::1"}), addrs({"192.0.2.2"})}, o);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.candidates.size(), 3u);
  EXPECT_EQ(r.candidates[0].host, "mx1.example.test");
  EXPECT_EQ(r.candidates[0].address.to_string(), "192.0.2.1");
  EXPECT_EQ(r.candidates[1].address.to_string(), "2001:db8::1");
  EXPECT_EQ(r.candidates[2].host, "mx2.example.test");
  EXPECT_EQ(r.candidates[2].preference, 20);
}

TEST(MxPolicy, LoopbackOnlyMxIsAnErrorUnlessAllowed) {
  PolicyOptions o;
  DestinationAddresses r =
      build_candidates(two_hosts(), {addrs({"127.0.0.1"}), addrs({"::1", "0.0.0.0"})}, o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.failure->permanent);
  EXPECT_EQ(r.failure->enhanced_code, "5.4.6");
  EXPECT_NE(r.failure->text.find("MX points at ourselves/loopback"), std::string::npos);

  o.allow_loopback = true;
  r = build_candidates(two_hosts(), {addrs({"127.0.0.1"}), addrs({"::1", "0.0.0.0"})}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.candidates.size(), 2u);
}

TEST(MxPolicy, LoopbackHostSkippedWhenAnotherIsUsable) {
  PolicyOptions o;
  DestinationAddresses r =
      build_candidates(two_hosts(), {addrs({"127.0.0.1"}), addrs({"192.0.2.2"})}, o);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.candidates.size(), 1u);
  EXPECT_EQ(r.candidates[0].host, "mx2.example.test");
  EXPECT_FALSE(r.notes.empty());
}

TEST(MxPolicy, OwnAddressIsALoop) {
  PolicyOptions o;
  o.own_addresses = {ip("203.0.113.5")};
  DestinationAddresses r = build_candidates(two_hosts(), {addrs({"203.0.113.5"})}, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure->enhanced_code, "5.4.6");
}

TEST(MxPolicy, HostAddressLookupFailures) {
  PolicyOptions o;
  AddressOutcome fail;  // both SERVFAIL
  DestinationAddresses r = build_candidates(two_hosts(), {fail, addrs({})}, o);
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(r.failure->permanent);
  EXPECT_EQ(r.failure->enhanced_code, "4.4.3");

  // One family failing while the other answers: use what we have.
  AddressOutcome half = addrs({"192.0.2.1"});
  half.v6_status = LookupStatus::kTimeout;
  r = build_candidates(two_hosts(), {half}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.candidates.size(), 1u);

  // No host has any address, all definitive: permanent.
  r = build_candidates(two_hosts(), {addrs({}), addrs({})}, o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.failure->permanent);
  EXPECT_EQ(r.failure->enhanced_code, "5.4.4");

  // An IPv6 failure does not matter when only IPv4 is used.
  o.order = AddressOrder::kIpv4Only;
  AddressOutcome v4only = addrs({"192.0.2.1"});
  v4only.v6_status = LookupStatus::kServFail;
  r = build_candidates(two_hosts(), {v4only}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.notes.empty());
}

TEST(MxPolicy, ImplicitMxWithoutAddressesIsPermanent) {
  PolicyOptions o;
  Destination d = choose_destination("example.test", status(LookupStatus::kNoData), 0);
  DestinationAddresses r = build_candidates(d, {addrs({})}, o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.failure->permanent);
  EXPECT_EQ(r.failure->enhanced_code, "5.1.2");
  EXPECT_TRUE(r.implicit_mx);

  r = build_candidates(d, {addrs({"192.0.2.8"})}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.candidates[0].host, "example.test");
}

TEST(MxPolicy, FailureIsPassedThrough) {
  Destination d = choose_destination("example.test", status(LookupStatus::kNxDomain), 0);
  DestinationAddresses r = build_candidates(d, {}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure->enhanced_code, "5.1.2");
}

TEST(MxPolicy, SockaddrConversion) {
  sockaddr_storage ss;
  EXPECT_EQ(ip("192.0.2.1").to_sockaddr(25, &ss), sizeof(sockaddr_in));
  EXPECT_EQ(reinterpret_cast<sockaddr_in*>(&ss)->sin_port, htons(25));
  EXPECT_EQ(ip("2001:db8::1").to_sockaddr(2525, &ss), sizeof(sockaddr_in6));
  EXPECT_EQ(ss.ss_family, AF_INET6);
  EXPECT_FALSE(IpAddress::parse("[::1]"));
  EXPECT_FALSE(IpAddress::parse("mx.example.test"));
}

}  // namespace
}  // namespace ringmta::dns
