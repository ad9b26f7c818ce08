// The supervisor side: rate windows, and Aggregator snapshots (totals, campaigns, queue depth kept
// from outcomes, domain bounding, throttle events) and their /status JSON.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "metrics/aggregator.h"
#include "metrics/prometheus_text.h"
#include "metrics/rate_window.h"
#include "metrics/status_json.h"

namespace ringmta::metrics {
namespace {

TEST(RateWindow, RatesOverWindowsAndRecentSeconds) {
  RateWindow w;
  EXPECT_EQ(w.rate(60'000), 0);
  for (int i = 0; i <= 120; ++i)
    w.sample(i * 1000, static_cast<uint64_t>(i < 60 ? i * 10 : 600 + (i - 60) * 20));
  w.sample(120'500, 999'999);  // closer than a second: ignored
  EXPECT_DOUBLE_EQ(w.rate(60'000), 20.0);
  EXPECT_DOUBLE_EQ(w.rate(300'000), 15.0);  // only 120 s of history
  auto recent = w.recent(3);
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_DOUBLE_EQ(recent[2], 20.0);
}

TEST(Aggregator, BuildsSnapshotsFromShards) {
  ShardCounters a, b;
  AggregatorConfig config;
  config.labeled_domains = 1;
  config.enqueued = 10;
  config.campaign_sizes["spring"] = 10;
  config.route = "smtp.test:587";
  config.max_connections = 4;
  config.queue_ready_at_start = 10;
  Aggregator agg(config, {&a, &b}, [](uint64_t id) { return id == 1 ? "spring" : "x"; });

  a.delivered.add(3);
  for (int i = 0; i < 3; ++i) a.outcomes.delivered(1, "big.test", 1);
  b.deferred.add();
  b.outcomes.deferred(2, "small.test", 1, 4'000'000'000, "451 later", 50);
  b.count_failure(FailureCategory::kExpired, 10);
  b.outcomes.failed(2, "small.test", 1, "550 expired", 60);
  a.outcomes.flush();
  b.outcomes.flush();
  a.session_ready(1, true);
  a.connections_opened.add(2);
  agg.update(1000, 100);
  agg.set_route_state(true, "Relay access denied: pass --user", 100);
  auto s = agg.snapshot(false);

  EXPECT_EQ(s->totals.delivered, 3u);
  EXPECT_EQ(s->totals.failed_expired, 1u);
  EXPECT_EQ(s->totals.failed_by[static_cast<std::size_t>(FailureCategory::kExpired)][10], 1u);
  EXPECT_EQ(s->totals.tls_ok, 1u);
  ASSERT_EQ(s->campaigns.size(), 1u);
  EXPECT_EQ(s->campaigns[0].id, "spring");
  EXPECT_EQ(s->campaigns[0].counts.delivered, 3u);
  EXPECT_EQ(s->campaigns[0].total, 10u);
  EXPECT_EQ(s->queue_deferred, 1u);  // due far in the future
  EXPECT_EQ(s->queue_ready, 5u);     // 10 - 3 delivered - 1 failed - 1 deferred
  ASSERT_EQ(s->domains.size(), 2u);
  EXPECT_EQ(s->domains[0].domain, "big.test");
  EXPECT_EQ(s->domains[1].domain, "other");
  EXPECT_EQ(s->domains[1].counts.failed, 1u);
  ASSERT_EQ(s->routes.size(), 1u);
  EXPECT_TRUE(s->routes[0].paused);
  EXPECT_EQ(s->routes[0].connections_allowed, 0u);
  EXPECT_EQ(s->routes[0].connections_open, 2u);
  EXPECT_EQ(s->routes[0].last.text, "550 expired");
  ASSERT_EQ(s->throttle_events.size(), 1u);
  EXPECT_EQ(s->throttle_events[0].reason, "Relay access denied: pass --user");

  auto j = nlohmann::json::parse(status_json(*s));
  EXPECT_EQ(j["campaigns"][0]["id"], "spring");
  EXPECT_DOUBLE_EQ(j["campaigns"][0]["progress"].get<double>(), 0.4);
  EXPECT_EQ(j["routes"][0]["limits"]["max_connections"], 4);
  EXPECT_EQ(j["domains"][0]["state"], "delivered");
  EXPECT_EQ(j["domains"][1]["state"], "failing");  // nothing delivered, its last answer a failure
  EXPECT_EQ(j["queue"]["next_retry_at"], 4'000'000'000);
  EXPECT_EQ(j["throttle_events"][0]["change"], "paused: connections 4 → 0");
}

RouteState route_state(std::string name, uint32_t open, uint32_t allowed, uint64_t ok) {
  RouteState r;
  r.name = std::move(name);
  r.connections_open = open;
  r.connections_allowed = allowed;
  r.max_connections = 8;
  r.max_messages_per_connection = 100;
  r.sessions_ok = ok;
  return r;
}

TEST(Aggregator, ACampaignThatArrivesLaterHasItsSizeAskedOnce) {
  ShardCounters a;
  AggregatorConfig config;
  int asked = 0;
  config.campaign_size_of = [&asked](const std::string& campaign) -> std::optional<uint64_t> {
    ++asked;
    if (campaign == "api") return 5;
    return std::nullopt;
  };
  Aggregator agg(config, {&a}, [](uint64_t id) { return id == 7 ? "api" : "unknown"; });
  for (int i = 0; i < 3; ++i) a.outcomes.delivered(1, "d.test", 7);  // domain id, domain, message
  a.outcomes.delivered(1, "d.test", 8);
  a.outcomes.flush();
  agg.update(1000, 100);
  a.outcomes.delivered(1, "d.test", 7);
  a.outcomes.flush();
  agg.update(2000, 101);
  auto s = agg.snapshot(false);
  ASSERT_EQ(s->campaigns.size(), 2u);
  for (const auto& c : s->campaigns) {
    EXPECT_EQ(c.total, c.id == "api" ? 5u : 0u) << c.id;  // "unknown": no size, not made up
  }
  EXPECT_EQ(asked, 2);  // once per campaign, not per update or message
}

TEST(Aggregator, DirectDeliveryRoutesAreTheShardsRouteStatesSummedAndBounded) {
  ShardCounters a, b;
  AggregatorConfig config;  // no smart host: direct delivery
  config.labeled_routes = 2;
  Aggregator agg(config, {&a, &b}, [](uint64_t) { return "c"; });

  // One MX host set served by both shards, cut to 3 (of 8) connections in shard a by a 421.
  RouteState cut = route_state("MX mx.big.test", 3, 3, 10);
  cut.rate_factor = 0.5;
  cut.last = LastReply{"421 4.7.0 slow down", 70, Outcome::kDeferred};
  a.outcomes.route(cut);
  a.outcomes.throttle_event({70, "MX mx.big.test", "connections 8 -> 4", "421 4.7.0 slow down"});
  b.outcomes.route(route_state("MX mx.big.test", 5, 8, 20));
  b.outcomes.route(route_state("MX mx.small.test", 1, 8, 1));
  a.outcomes.flush();
  b.outcomes.flush();
  agg.update(1000, 100);
  // A state replaces the shard's earlier one; a third route arrives after the two rows are given.
  b.outcomes.route(route_state("MX mx.small.test", 0, 8, 2));
  b.outcomes.route(route_state("MX mx.late.test", 2, 8, 4));
  a.outcomes.route(route_state("MX mx.later.test", 1, 8, 1));
  a.outcomes.flush();
  b.outcomes.flush();
  agg.update(2000, 101);
  auto s = agg.snapshot(false);

  ASSERT_EQ(s->routes.size(), 3u);
  EXPECT_EQ(s->routes[0].name, "MX mx.big.test");  // the most connections open first
  EXPECT_EQ(s->routes[0].connections_open, 8u);
  EXPECT_EQ(s->routes[0].connections_allowed, 11u);
  EXPECT_EQ(s->routes[0].max_connections, 16u);
  EXPECT_DOUBLE_EQ(s->routes[0].rate_factor, 0.5);  // the tightest shard's
  EXPECT_EQ(s->routes[0].sessions_ok, 30u);
  EXPECT_EQ(s->routes[0].last.text, "421 4.7.0 slow down");
  EXPECT_FALSE(s->routes[0].paused);
  EXPECT_EQ(s->routes[1].name, "MX mx.small.test");
  EXPECT_EQ(s->routes[1].sessions_ok, 2u);
  EXPECT_EQ(s->routes[2].name, "other");
  EXPECT_EQ(s->routes[2].connections_open, 3u);
  EXPECT_EQ(s->routes[2].sessions_ok, 5u);
  ASSERT_EQ(s->throttle_events.size(), 1u);
  EXPECT_EQ(s->throttle_events[0].route, "MX mx.big.test");
  EXPECT_EQ(s->throttle_events[0].change, "connections 8 -> 4");

  auto j = nlohmann::json::parse(status_json(*s));
  EXPECT_DOUBLE_EQ(j["routes"][0]["limits"]["rate_factor"].get<double>(), 0.5);
  EXPECT_EQ(j["routes"][0]["limits"]["connections_allowed"], 11);
  EXPECT_EQ(j["routes"][0]["connections_ok"], 30);
  EXPECT_EQ(j["throttle_events"][0]["reason"], "421 4.7.0 slow down");
}

TEST(Aggregator, ALimitTheShardsShareIsCountedOnce) {
  ShardCounters a, b;
  AggregatorConfig config;
  Aggregator agg(config, {&a, &b}, [](uint64_t) { return "c"; });
  RouteState one = route_state("rule provider", 3, 8, 1),
             two = route_state("rule provider", 2, 6, 1);
  one.limits_shared = two.limits_shared = true;  // each holds the route's whole 8
  a.outcomes.route(one);
  b.outcomes.route(two);
  a.outcomes.flush();
  b.outcomes.flush();
  agg.update(1000, 100);
  auto s = agg.snapshot(false);
  ASSERT_EQ(s->routes.size(), 1u);
  EXPECT_EQ(s->routes[0].connections_open, 5u);
  EXPECT_EQ(s->routes[0].max_connections, 8u);
  EXPECT_EQ(s->routes[0].connections_allowed, 8u);  // 14 by the shards' own AIMD, 8 by the route
}

TEST(Aggregator, TheSmartHostRowTakesTheAdaptiveLimitFromItsShards) {
  ShardCounters a, b;
  AggregatorConfig config;
  config.route = "smtp.test:587";
  config.max_connections = 8;
  Aggregator agg(config, {&a, &b}, [](uint64_t) { return "c"; });
  agg.update(1000, 100);
  EXPECT_EQ(agg.snapshot(false)->routes.at(0).connections_allowed, 8u);  // nothing reported yet
  a.outcomes.route(route_state("smtp.test:587", 0, 2, 0));
  b.outcomes.route(route_state("smtp.test:587", 0, 4, 0));
  a.outcomes.flush();
  b.outcomes.flush();
  agg.update(2000, 101);
  auto s = agg.snapshot(false);
  ASSERT_EQ(s->routes.size(), 1u);
  EXPECT_EQ(s->routes[0].name, "smtp.test:587");
  EXPECT_EQ(s->routes[0].connections_allowed, 6u);
  EXPECT_EQ(s->routes[0].max_connections, 8u);
}

TEST(OutcomeTally, KeepsTheLatestThrottleEventsOnly) {
  OutcomeTally tally;
  for (int i = 0; i < 250; ++i) {
    tally.throttle_event({i, "r", std::to_string(i), "x"});
    if (i % 70 == 0) tally.flush();
  }
  tally.flush();
  TallyDelta d = tally.take();
  ASSERT_EQ(d.throttle_events.size(), TallyDelta::kMaxEvents);
  EXPECT_EQ(d.throttle_events.front().change, "150");
  EXPECT_EQ(d.throttle_events.back().change, "249");
}

TEST(StatusJson, InvalidUtf8InARepliesDoesNotBreakTheDocument) {
  Snapshot s;
  RouteSnapshot r;
  r.name = "x";
  r.last = LastReply{"550 \xff\xfe bad", 1, Outcome::kFailed};
  s.routes.push_back(r);
  auto j = nlohmann::json::parse(status_json(s));
  EXPECT_TRUE(j["routes"][0]["last_reply"]["reply"].is_string());
}

TEST(Aggregator, StatusShowsWaitingDomainsBackedOffRoutesAndTheirConfiguredRates) {
  ShardCounters a;
  AggregatorConfig config;
  config.route = "smtp.test:587";
  config.max_connections = 4;
  config.category_names = {"invalid_recipient", "mailbox_full"};
  config.reply_stage_names = {"", "greeting", "rcpt"};
  Aggregator agg(config, {&a}, [](uint64_t) { return "c"; });
  // Two recipients of slow.test taken and not answered; one of ok.test taken and delivered.
  a.outcomes.taken(1, "slow.test");
  a.outcomes.taken(1, "slow.test");
  a.outcomes.taken(2, "ok.test");
  a.outcomes.given_back(2, "ok.test");
  a.outcomes.delivered(2, "ok.test", 1);
  RouteState route;
  route.name = "smtp.test:587";
  route.max_connections = 4;
  route.connections_allowed = 4;
  route.messages_per_second = 50;
  route.backing_off_until = 130;
  a.outcomes.route(route);
  a.outcomes.flush();
  a.replies[2][3].add(7);  // seven 5xx to RCPT
  a.deferred_by[1].add();
  agg.update(1000, 100);
  auto j = nlohmann::json::parse(status_json(*agg.snapshot(false)));
  ASSERT_EQ(j["domains"].size(), 3u);
  EXPECT_EQ(j["domains"][0]["domain"], "slow.test");
  EXPECT_EQ(j["domains"][0]["state"], "waiting");
  EXPECT_EQ(j["domains"][0]["in_progress"], 2);
  EXPECT_EQ(j["domains"][1]["state"], "delivered");
  EXPECT_EQ(j["routes"][0]["state"], "backing off");
  EXPECT_EQ(j["routes"][0]["backing_off_until"], 130);
  EXPECT_EQ(j["routes"][0]["limits"]["messages_per_second"], 50.0);
  EXPECT_TRUE(j["routes"][0]["limits"]["messages_per_hour"].is_null());
  EXPECT_TRUE(j["queue"]["next_retry_at"].is_null());
  // Once the back-off has passed, the route is open again.
  agg.update(2000, 131);
  j = nlohmann::json::parse(status_json(*agg.snapshot(false)));
  EXPECT_EQ(j["routes"][0]["state"], "open");
  EXPECT_TRUE(j["routes"][0]["backing_off_until"].is_null());
  const std::string text = prometheus_text(*agg.snapshot(false));
  EXPECT_NE(text.find("ringmta_smtp_replies_total{stage=\"rcpt\",class=\"5xx\"} 7\n"),
            std::string::npos);
  EXPECT_NE(text.find("ringmta_recipients_deferred_total{category=\"mailbox_full\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("ringmta_recipients_failed_total{reason=\"local\",category=\"invalid_"
                      "recipient\"} 0\n"),
            std::string::npos);
  EXPECT_EQ(text.find("stage=\"\""), std::string::npos);  // a stage without replies: no series
}

}  // namespace
}  // namespace ringmta::metrics
