// Unit tests for deliverability/: the SPF evaluator fed records round by round (ip4/ip6 with
// prefixes, a, mx, include, redirect, qualifiers, the 10-lookup limit, two records, missing
// data asked for) and the tag-list parser. Pure; no DNS.
#include <gtest/gtest.h>

#include "deliverability/assessment.h"
#include "deliverability/spf.h"

namespace ringmta::deliverability {
namespace {

dns::IpAddress ip(const char* text) {
  return *dns::IpAddress::parse(text);
}

// Evaluates, answering each round's needs from `zone` (TXT), `hosts` (addresses) and `mx`.
SpfVerdict run(std::map<std::string, std::vector<std::string>> zone,
               std::map<std::string, std::vector<dns::IpAddress>> hosts,
               std::map<std::string, std::vector<std::string>> mx, const char* domain,
               const char* address, int* rounds = nullptr) {
  SpfData data;
  for (int round = 0; round < 40; ++round) {
    auto r = evaluate_spf(data, domain, ip(address));
    if (auto* v = std::get_if<SpfVerdict>(&r)) {
      if (rounds) *rounds = round;
      return *v;
    }
    const SpfNeeds& n = std::get<SpfNeeds>(r);
    EXPECT_FALSE(n.txt.empty() && n.addresses.empty() && n.mx.empty());
    for (const auto& name : n.txt)
      data.txt[name] = zone.count(name) ? zone[name] : std::vector<std::string>{};
    for (const auto& name : n.addresses) data.addresses[name] = hosts[name];
    for (const auto& name : n.mx) data.mx[name] = mx[name];
  }
  ADD_FAILURE() << "no verdict after 40 rounds";
  return {};
}

TEST(Spf, AddressesPrefixesAndQualifiers) {
  std::map<std::string, std::vector<std::string>> zone{
      {"example.org",
       {"google-site-verification=x", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ~all"}}};
  EXPECT_EQ(run(zone, {}, {}, "example.org", "192.0.2.77").result, SpfResult::kPass);
  EXPECT_EQ(run(zone, {}, {}, "example.org", "2001:db8::5").result, SpfResult::kPass);
  SpfVerdict soft = run(zone, {}, {}, "example.org", "198.51.100.1");
  EXPECT_EQ(soft.result, SpfResult::kSoftFail);
  EXPECT_EQ(soft.reason, "~all");
  EXPECT_EQ(soft.record, "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ~all");
  EXPECT_EQ(run({{"x.org", {"v=spf1 ?all"}}}, {}, {}, "x.org", "192.0.2.1").result,
            SpfResult::kNeutral);
  EXPECT_EQ(run({{"x.org", {"v=spf1 -ip4:192.0.2.1 +all"}}}, {}, {}, "x.org", "192.0.2.1").result,
            SpfResult::kFail);
  EXPECT_EQ(run({{"x.org", {"v=spf1 ip4:192.0.2.2"}}}, {}, {}, "x.org", "192.0.2.1").result,
            SpfResult::kNeutral);  // no match, no all
}

TEST(Spf, LookupsIncludeMxAAndRedirect) {
  std::map<std::string, std::vector<std::string>> zone{
      {"example.org",
       {"v=spf1 a:web.example.org/28 mx include:_spf.provider.test redirect=other.org"}},
      {"_spf.provider.test", {"v=spf1 ip4:203.0.113.0/24 -all"}},
      {"other.org", {"v=spf1 ip4:198.51.100.7 -all"}}};
  std::map<std::string, std::vector<dns::IpAddress>> hosts{{"web.example.org", {ip("192.0.2.16")}},
                                                           {"mx1.example.org", {ip("192.0.2.99")}}};
  std::map<std::string, std::vector<std::string>> mx{{"example.org", {"mx1.example.org"}}};
  int rounds = 0;
  EXPECT_EQ(run(zone, hosts, mx, "example.org", "192.0.2.20", &rounds).result,
            SpfResult::kPass);  // a/28
  EXPECT_GE(rounds, 2);
  EXPECT_EQ(run(zone, hosts, mx, "example.org", "192.0.2.99").result, SpfResult::kPass);  // mx
  EXPECT_EQ(run(zone, hosts, mx, "example.org", "203.0.113.5").result,
            SpfResult::kPass);  // include
  EXPECT_EQ(run(zone, hosts, mx, "example.org", "198.51.100.7").result,
            SpfResult::kPass);  // redirect
  SpfVerdict other = run(zone, hosts, mx, "example.org", "198.51.100.8");
  EXPECT_EQ(other.result, SpfResult::kFail);  // the redirect's -all, not include's
  EXPECT_EQ(other.record, zone["example.org"][0]);
}

TEST(Spf, ErrorsAndNone) {
  EXPECT_EQ(run({}, {}, {}, "none.org", "192.0.2.1").result, SpfResult::kNone);
  EXPECT_EQ(
      run({{"two.org", {"v=spf1 -all", "v=spf1 +all"}}}, {}, {}, "two.org", "192.0.2.1").result,
      SpfResult::kPermError);
  EXPECT_EQ(run({{"inc.org", {"v=spf1 include:missing.org -all"}}}, {}, {}, "inc.org", "192.0.2.1")
                .result,
            SpfResult::kPermError);
  EXPECT_EQ(
      run({{"bad.org", {"v=spf1 ip4:not-an-ip -all"}}}, {}, {}, "bad.org", "192.0.2.1").result,
      SpfResult::kPermError);
  // An empty address (found by fuzz_deliverability_spf).
  EXPECT_EQ(run({{"empty.org", {"v=spf1 ip4: -all"}}}, {}, {}, "empty.org", "192.0.2.1").result,
            SpfResult::kPermError);
  // Eleven includes: more than 10 DNS-querying terms.
  std::map<std::string, std::vector<std::string>> zone;
  std::string record = "v=spf1";
  for (int i = 0; i < 11; ++i) {
    record += " include:i" + std::to_string(i) + ".org";
    zone["i" + std::to_string(i) + ".org"] = {"v=spf1 ip4:203.0.113.1"};
  }
  zone["many.org"] = {record + " -all"};
  SpfVerdict many = run(zone, {}, {}, "many.org", "192.0.2.1");
  EXPECT_EQ(many.result, SpfResult::kPermError);
  EXPECT_NE(many.reason.find("10 DNS lookups"), std::string::npos) << many.reason;
  // A lookup that failed: temperror.
  SpfData failed;
  failed.txt["down.org"] = std::nullopt;
  auto r = evaluate_spf(failed, "down.org", ip("192.0.2.1"));
  ASSERT_TRUE(std::holds_alternative<SpfVerdict>(r));
  EXPECT_EQ(std::get<SpfVerdict>(r).result, SpfResult::kTempError);
}

TEST(Tags, KeyRecordsAndDmarc) {
  auto t = parse_tags("v=DKIM1; k=rsa;\r\n p=MIIB IjAN ;t=y");
  EXPECT_EQ(t["v"], "DKIM1");
  EXPECT_EQ(t["p"], "MIIBIjAN");
  EXPECT_EQ(t["t"], "y");
  auto d = parse_tags("v=DMARC1;p=reject;  RUA = mailto:x@example.org");
  EXPECT_EQ(d["p"], "reject");
  EXPECT_EQ(d["rua"], "mailto:x@example.org");
}

}  // namespace
}  // namespace ringmta::deliverability
