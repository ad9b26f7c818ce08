// ThrottleRules: TOML parsing (defaults, rules, rates, bursts), clear errors naming the file and
// the rule, and first-match resolution (exact domain, then MX pattern, then default).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "scheduler/throttle_rules.h"

namespace ringmta::scheduler {
namespace {

const char* kFile = R"(
[default]
max_connections = 8
messages_per_second = 20

[[rule]]
name = "google"
domains = ["gmail.com", "GoogleMail.com."]
mx = ["*.google.com", "*.googlemail.com"]
max_connections = 5
messages_per_minute = 600
message_burst = 4

[[rule]]
name = "outlook"
mx = "*.protection.outlook.com"
max_connections = 3
max_messages_per_connection = 50
max_recipients_per_transaction = 10
connections_per_minute = 6
connection_burst = 2
messages_per_second = 0

[[rule]]
domains = "example.org"
mx = ["mx.example.org"]
messages_per_hour = 3600
)";

ThrottleRules must_parse(const char* text, Limits builtin = {}) {
  auto r = ThrottleRules::parse(text, "limits.toml", builtin);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : ThrottleRules(builtin);
}

TEST(ThrottleRules, EmptyGivesBuiltins) {
  Limits builtin;
  builtin.max_connections = 4;
  auto rules = must_parse("", builtin);
  auto r = rules.resolve("gmail.com", {"gmail-smtp-in.l.google.com"});
  EXPECT_EQ(r.rule, "default");
  EXPECT_EQ(r.limits, builtin);
}

TEST(ThrottleRules, ParsesDefaultsAndRules) {
  auto rules = must_parse(kFile);
  ASSERT_EQ(rules.rules().size(), 3u);
  EXPECT_EQ(rules.defaults().max_connections, 8u);
  EXPECT_EQ(rules.defaults().max_messages_per_connection, 1000u);  // built-in
  EXPECT_EQ(rules.defaults().messages_per_second, Rate::per_second(20));
  EXPECT_EQ(rules.rules()[0].domains, (std::vector<std::string>{"gmail.com", "googlemail.com"}));
  EXPECT_EQ(rules.rules()[2].name, "limits.toml#3");
}

TEST(ThrottleRules, ExactDomainWinsOverMxPatternWinsOverDefault) {
  auto rules = must_parse(kFile);
  // The domain rule, whatever the MX hosts.
  auto g = rules.resolve("GMAIL.com", {"mx.example.org"});
  EXPECT_EQ(g.rule, "google");
  EXPECT_EQ(g.matched, "domain gmail.com");
  EXPECT_EQ(g.limits.max_connections, 5u);
  EXPECT_EQ(g.limits.messages_per_minute, Rate::per_minute(600));
  EXPECT_EQ(g.limits.messages_per_second, Rate::per_second(20));  // from [default]
  EXPECT_EQ(g.limits.message_burst, 4);
  // A Google Workspace domain: matched by its MX hosts.
  auto w = rules.resolve("corp.example", {"aspmx.l.google.com", "alt1.aspmx.l.google.com"});
  EXPECT_EQ(w.rule, "google");
  EXPECT_EQ(w.matched, "mx aspmx.l.google.com");
  // Office 365.
  auto o = rules.resolve("contoso.com", {"contoso-com.mail.protection.outlook.com."});
  EXPECT_EQ(o.rule, "outlook");
  EXPECT_EQ(o.limits.max_connections, 3u);
  EXPECT_EQ(o.limits.max_messages_per_connection, 50u);
  EXPECT_EQ(o.limits.max_recipients_per_transaction, 10u);
  EXPECT_EQ(o.limits.connections_per_minute, Rate::per_minute(6));
  EXPECT_EQ(o.limits.connection_burst, 2);
  EXPECT_TRUE(o.limits.messages_per_second.unlimited());  // 0 lifts the default rate
  // Nothing matches.
  auto d = rules.resolve("small.example", {"mail.small.example"});
  EXPECT_EQ(d.rule, "default");
  EXPECT_EQ(d.limits, rules.defaults());
  // An exact MX host.
  EXPECT_EQ(rules.resolve("x.example", {"MX.example.org"}).rule, "limits.toml#3");
  // The bare suffix of a *.pattern is not matched.
  EXPECT_EQ(rules.resolve("x.example", {"google.com"}).rule, "default");
}

TEST(ThrottleRules, MxPatterns) {
  EXPECT_TRUE(mx_pattern_matches("*.google.com", "alt1.aspmx.l.google.com"));
  EXPECT_TRUE(mx_pattern_matches("*.Google.COM", "ASPMX.l.google.com."));
  EXPECT_FALSE(mx_pattern_matches("*.google.com", "google.com"));
  EXPECT_FALSE(mx_pattern_matches("*.google.com", "evilgoogle.com"));
  EXPECT_TRUE(mx_pattern_matches("mx.example.org", "mx.example.org."));
  EXPECT_FALSE(mx_pattern_matches("mx.example.org", "mx2.example.org"));
  EXPECT_FALSE(mx_pattern_matches("*.google.com", ""));
}

void expect_error(const char* text, const std::string& needle) {
  auto r = ThrottleRules::parse(text, "limits.toml");
  ASSERT_FALSE(r.ok()) << text;
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.rfind("limits.toml", 0), 0u) << r.error().message;
}

TEST(ThrottleRules, ErrorsNameTheFileTheRuleAndTheKey) {
  expect_error("[[rule]]\nname = \"g\"\ndomains = \"gmail.com\"\nmax_connections = 0\n",
               "limits.toml: rule 1 (g): 'max_connections' must be an integer from 1");
  expect_error("[[rule]]\ndomains = \"a.example\"\n[[rule]]\ndomains = \"b.example\"\nfoo = 1\n",
               "rule 2: unknown key 'foo'");
  expect_error("[[rule]]\nmax_connections = 2\n", "rule 1: needs 'domains' or 'mx'");
  expect_error("[[rule]]\ndomains = [\"*.gmail.com\"]\n", "use mx = [\"*.gmail.com\"]");
  expect_error("[[rule]]\nmx = [\"*.go*gle.com\"]\n", "invalid MX host pattern");
  expect_error("[[rule]]\nmx = []\n", "'mx' is an empty list");
  expect_error("[[rule]]\nmx = \"*.x.com\"\nmessages_per_second = \"fast\"\n",
               "'messages_per_second' must be a number");
  expect_error("[default]\nmessage_burst = 0.5\n", "[default]: 'message_burst' must be a number");
  expect_error("[default]\nbogus = 1\n", "[default]: unknown key 'bogus'");
  expect_error("rule = 3\n", "'rule' must be an array of tables");
  expect_error("[limits]\nx = 1\n", "unknown top-level key 'limits'");
  expect_error("[[rule]\n", "(line 1)");
}

TEST(ThrottleRules, ClusterWideIsARulesChoiceOrTheDefaults) {
  auto rules = must_parse(
      "[default]\nmessages_per_second = 5\n"
      "[[rule]]\nname = \"google\"\ndomains = [\"gmail.com\"]\ncluster = true\n"
      "[[rule]]\nname = \"other\"\ndomains = [\"other.test\"]\n");
  EXPECT_TRUE(rules.resolve("gmail.com", {}).limits.cluster);
  EXPECT_FALSE(rules.resolve("other.test", {}).limits.cluster);
  EXPECT_FALSE(rules.resolve("example.net", {}).limits.cluster);
  auto all = must_parse("[default]\ncluster = true\n");
  EXPECT_TRUE(all.resolve("example.net", {}).limits.cluster);
  auto bad = ThrottleRules::parse("[default]\ncluster = \"yes\"\n", "limits.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("'cluster' must be true or false"), std::string::npos)
      << bad.error().message;
}

TEST(ThrottleRules, LoadFile) {
  const auto path = std::filesystem::temp_directory_path() / "ringmta-throttle-test.toml";
  std::ofstream(path) << kFile;
  auto r = ThrottleRules::load_file(path.string());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->rules().size(), 3u);
  std::filesystem::remove(path);
  auto missing = ThrottleRules::load_file(path.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find(path.string()), std::string::npos);
}

TEST(ThrottleRules, SingleDomainOnlyForARuleNamingJustThatDomain) {
  auto r = ThrottleRules::parse(
      "[[rule]]\nname = \"one\"\ndomains = [\"a.example\"]\n"
      "[[rule]]\nname = \"two\"\ndomains = [\"b.example\", \"c.example\"]\n"
      "[[rule]]\nname = \"mixed\"\ndomains = [\"d.example\"]\nmx = [\"*.d.example\"]\n",
      "t.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->resolve("a.example", {}).single_domain);
  EXPECT_FALSE(r->resolve("b.example", {}).single_domain);
  EXPECT_FALSE(r->resolve("d.example", {}).single_domain);
  EXPECT_FALSE(r->resolve("z.example", {}).single_domain);  // [default]
}

TEST(ShardShare, DividesConnectionsAndRatesKeepsPerConnectionLimits) {
  Limits whole;
  whole.max_connections = 5;
  whole.max_messages_per_connection = 100;
  whole.max_recipients_per_transaction = 50;
  whole.messages_per_second = Rate::per_second(10);
  whole.connections_per_minute = Rate::per_minute(30);
  whole.message_burst = 3;
  Limits part = shard_share(whole, 2);
  EXPECT_EQ(part.max_connections, 3u);  // rounded up
  EXPECT_EQ(part.max_messages_per_connection, 100u);
  EXPECT_EQ(part.max_recipients_per_transaction, 50u);
  EXPECT_DOUBLE_EQ(part.messages_per_second.count, 5);
  EXPECT_DOUBLE_EQ(part.connections_per_minute.count, 15);
  EXPECT_DOUBLE_EQ(part.message_burst, 1.5);
  EXPECT_TRUE(part.messages_per_hour.unlimited());
  EXPECT_EQ(shard_share(whole, 8).max_connections, 1u);  // never below one
  EXPECT_DOUBLE_EQ(shard_share(whole, 8).message_burst, 1);
  EXPECT_EQ(shard_share(whole, 1), whole);
}

}  // namespace
}  // namespace ringmta::scheduler
