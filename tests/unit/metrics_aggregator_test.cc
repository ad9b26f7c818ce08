// The supervisor side: rate windows, and Aggregator snapshots (totals, campaigns, queue depth kept
// from outcomes, domain bounding, throttle events) and their /status JSON.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "metrics/aggregator.h"
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
  b.count_failure(FailureCategory::kExpired);
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
  EXPECT_EQ(j["domains"][1]["state"], "failed");
  EXPECT_EQ(j["throttle_events"][0]["change"], "paused: connections 4 → 0");
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

}  // namespace
}  // namespace ringmta::metrics
