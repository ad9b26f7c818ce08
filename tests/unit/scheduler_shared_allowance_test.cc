// SharedAllowance: the rate holds for the sum of several takers whatever their share of the work,
// the connection count is capped across them, a refusal by one rate gives back the others, new
// limits apply at once; RouteThrottle asks it as well as its own buckets.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "scheduler/route_throttle.h"
#include "scheduler/shared_allowance.h"

namespace ringmta::scheduler {
namespace {

Limits rate_limits(double per_second, double burst = 1, uint32_t connections = 0) {
  Limits l;
  l.messages_per_second = Rate::per_second(per_second);
  l.message_burst = burst;
  l.max_connections = connections;
  return l;
}

TEST(SharedAllowance, TheRateHoldsForTwoTakersAndForOneAlone) {
  SharedAllowance shared(rate_limits(100), 0);
  // Two takers every millisecond for a second, then one alone for a second: 100 each second.
  std::size_t first = 0, second = 0;
  Millis retry = 0;
  for (Millis now = 0; now < 1000; ++now) {
    first += shared.try_send(now, retry) ? 1 : 0;
    first += shared.try_send(now, retry) ? 1 : 0;
  }
  for (Millis now = 1000; now < 2000; ++now) second += shared.try_send(now, retry) ? 1 : 0;
  EXPECT_NEAR(static_cast<double>(first), 100, 1);
  EXPECT_NEAR(static_cast<double>(second), 100, 1);  // not halved when one taker is gone
}

TEST(SharedAllowance, SaysWhenTheNextTokenComes) {
  SharedAllowance shared(rate_limits(10), 0);
  Millis retry = 0;
  ASSERT_TRUE(shared.try_send(0, retry));
  ASSERT_FALSE(shared.try_send(0, retry));
  EXPECT_EQ(retry, 100);
  EXPECT_FALSE(shared.try_send(99, retry));
  EXPECT_TRUE(shared.try_send(100, retry));
}

TEST(SharedAllowance, ThreadsTakingAtOnceNeverExceedTheRate) {
  SharedAllowance shared(rate_limits(1000, 10), 0);
  std::atomic<std::size_t> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      Millis retry = 0;
      for (Millis now = 0; now < 500; ++now) {
        for (int i = 0; i < 10; ++i) taken += shared.try_send(now, retry) ? 1 : 0;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(taken.load(), 500u + 10u);  // 1000/s over 0.5 s plus the burst
  EXPECT_GE(taken.load(), 495u);
}

TEST(SharedAllowance, ARefusingRateGivesBackWhatTheOthersGave) {
  Limits l = rate_limits(1000, 1000);
  l.messages_per_minute = Rate::per_minute(2);
  l.message_burst = 2;
  SharedAllowance shared(l, 0);
  Millis retry = 0;
  EXPECT_TRUE(shared.try_send(0, retry));
  EXPECT_TRUE(shared.try_send(0, retry));
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(shared.try_send(1, retry));  // the minute rate says no
  EXPECT_EQ(retry, 30'000);
  // The per-second rate was given back each time: a new limit on the minute lets a burst through.
  l.messages_per_minute = {};
  shared.set_limits(l);
  EXPECT_TRUE(shared.try_send(1, retry));
}

TEST(SharedAllowance, ConnectionsAreCappedAcrossTakers) {
  SharedAllowance shared(rate_limits(0, 0, 3), 0);
  EXPECT_TRUE(shared.try_open());
  EXPECT_TRUE(shared.try_open());
  EXPECT_TRUE(shared.try_open());
  EXPECT_FALSE(shared.try_open());
  shared.closed();
  EXPECT_TRUE(shared.try_open());
  shared.set_limits(rate_limits(0, 0, 5));
  EXPECT_TRUE(shared.try_open());
  EXPECT_EQ(shared.open_connections(), 4u);
}

TEST(SharedAllowance, TheRegistryHandsEveryAskerTheSameAllowance) {
  SharedAllowances registry;
  auto a = registry.get("rule google", rate_limits(5), 0);
  auto b = registry.get("rule google", rate_limits(99), 0);
  auto c = registry.get("rule other", rate_limits(5), 0);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  registry.reload([](const std::string&) { return rate_limits(0, 0, 1); });
  EXPECT_TRUE(a->try_open());
  EXPECT_FALSE(b->try_open());
}

TEST(SharedAllowance, AClusterWideRuleSendsOnlyOnLeasesUntilItFallsBack) {
  Limits limits = rate_limits(100, 1, 4);
  limits.cluster = true;
  SharedAllowance shared(limits, 0);
  ASSERT_TRUE(shared.cluster());
  ASSERT_TRUE(shared.leasing());  // born leasing: nothing before the agent's first word
  Millis retry = 0;
  EXPECT_FALSE(shared.try_send(0, retry));
  EXPECT_EQ(retry, SharedAllowance::kLeaseWait);
  EXPECT_FALSE(shared.try_open());
  EXPECT_EQ(shared.take_token_misses(), 1u);
  EXPECT_EQ(shared.take_connection_misses(), 1u);
  EXPECT_EQ(shared.take_token_misses(), 0u);
  // Two tokens and one connection lease: that much, and the local rate still holds.
  shared.add_tokens(2);
  shared.set_connection_leases(1);
  EXPECT_TRUE(shared.try_send(0, retry));
  EXPECT_FALSE(shared.try_send(1, retry));  // the local 100/s (burst 1) refuses first
  EXPECT_EQ(shared.tokens(), 1);            // and takes no token
  EXPECT_TRUE(shared.try_send(10, retry));
  EXPECT_FALSE(shared.try_send(20, retry));  // no token left
  EXPECT_EQ(shared.tokens(), 0);
  shared.set_tokens_due(500);
  EXPECT_FALSE(shared.try_send(30, retry));
  EXPECT_EQ(retry, 500);  // Redis said when
  EXPECT_TRUE(shared.try_open());
  EXPECT_FALSE(shared.try_open());
  // Redis away, 2 nodes last counted: half the rate and connections, no leases needed.
  shared.fall_back(2);
  EXPECT_FALSE(shared.leasing());
  EXPECT_EQ(shared.max_connections(), 2u);
  EXPECT_TRUE(shared.try_open());
  EXPECT_FALSE(shared.try_open());
  std::size_t sent = 0;
  for (Millis now = 1000; now < 2000; ++now) sent += shared.try_send(now, retry) ? 1 : 0;
  EXPECT_NEAR(static_cast<double>(sent), 50, 1);
  // A reload in fallback keeps the share; back on leases: the whole again.
  Limits faster = limits;
  faster.max_connections = 8;
  shared.set_limits(faster);
  EXPECT_EQ(shared.max_connections(), 4u);
  EXPECT_EQ(shared.limits().max_connections, 8u);
  shared.use_leases();
  EXPECT_TRUE(shared.leasing());
  EXPECT_EQ(shared.max_connections(), 8u);
}

TEST(RouteThrottleSharing, TwoShardsThrottlesHoldTheRouteTotal) {
  const Limits whole = rate_limits(50, 1, 2);
  auto shared = std::make_shared<SharedAllowance>(whole, 0);
  RouteThrottle one(local_share(whole, 2), 0), two(local_share(whole, 2), 0);
  one.share(shared);
  two.share(shared);
  EXPECT_TRUE(one.may_open_connection(0, 0));
  EXPECT_TRUE(two.may_open_connection(0, 0));
  EXPECT_FALSE(one.may_open_connection(0, 1));  // the route's 2 are open
  EXPECT_EQ(one.next_open_at(0), RouteThrottle::kSharedOpenRetry);
  two.connection_closed();
  EXPECT_TRUE(one.may_open_connection(200, 1));
  std::size_t sent = 0;
  for (Millis now = 0; now < 2000; ++now) {
    sent += one.may_send(now) ? 1 : 0;
    if (now < 1000) sent += two.may_send(now) ? 1 : 0;
  }
  EXPECT_NEAR(static_cast<double>(sent), 100, 2);  // 50/s for 2 s, whoever sends
  EXPECT_TRUE(two.may_send(2000));
  EXPECT_FALSE(one.may_send(2000));  // its own bucket has a token; the shared rate has none
  EXPECT_EQ(one.next_send_at(2000), 2020);
}

}  // namespace
}  // namespace ringmta::scheduler
