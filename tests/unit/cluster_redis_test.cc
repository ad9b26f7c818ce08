// RedisConnection and the cluster's scripts against a real redis-server started here on 127.0.0.1
// (cluster_redis_server.h): AUTH required and refused, commands and replies of every type, two
// connections leasing one rule's tokens at once never exceed its rate and burst, a lease holds to
// the tightest of a rule's rates, the retry time when none fit, the script reloaded after SCRIPT
// FLUSH, connection leases never above the cluster-wide limit and freed by their TTL, heartbeats
// that count the live nodes (with the URLs of nodes that take campaign parts), and a Redis that is
// gone answered with an error value in bounded time.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "cluster/connection_lease.h"
#include "cluster/membership.h"
#include "cluster/rate_factor.h"
#include "cluster/rate_lease.h"
#include "cluster/redis_connection.h"
#include "cluster_redis_server.h"

namespace ringmta::cluster {
namespace {

using redis_fixture::RedisTest;

TEST_F(RedisTest, AuthIsRequiredAndAWrongPasswordIsRefused) {
  auto bad = RedisConnection::connect(options("wrong"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("refused AUTH"), std::string::npos) << bad.error().message;
  auto anonymous = RedisConnection::connect(options(""));
  ASSERT_TRUE(anonymous);
  auto refused = (*anonymous)->command({"GET", "k"});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->type, RedisReply::Type::kError);
  EXPECT_NE(refused->text.find("NOAUTH"), std::string::npos);
}

TEST_F(RedisTest, CommandsAndEveryReplyType) {
  auto c = RedisConnection::connect(options());
  ASSERT_TRUE(c) << c.error().message;
  RedisConnection& r = **c;
  const std::string binary("a\0b\r\nc", 6);
  EXPECT_EQ(r.command({"SET", "k", binary})->text, "OK");
  auto got = r.command({"GET", "k"});
  ASSERT_TRUE(got);
  EXPECT_EQ(got->type, RedisReply::Type::kString);
  EXPECT_EQ(got->text, binary);
  EXPECT_EQ(r.command({"GET", "missing"})->type, RedisReply::Type::kNil);
  EXPECT_EQ(r.command({"INCRBY", "n", "41"})->integer, 41);
  auto list = r.command({"MGET", "k", "missing"});
  ASSERT_EQ(list->type, RedisReply::Type::kArray);
  ASSERT_EQ(list->elements.size(), 2u);
  EXPECT_EQ(list->elements[1].type, RedisReply::Type::kNil);
  EXPECT_EQ(r.command({"NOSUCHCOMMAND"})->type, RedisReply::Type::kError);
}

TEST_F(RedisTest, TwoNodesLeasingAtOnceNeverExceedTheRate) {
  // 200/s with a burst of 10, leased in batches of 5 by two connections as fast as they can for
  // 1.5 s: at most 200 × 1.5 + 10 tokens in all, and nearly that many.
  const scheduler::Rate rate = scheduler::Rate::per_second(200);
  std::atomic<uint64_t> granted{0};
  std::atomic<int> errors{0};
  const auto node = [&] {
    auto c = RedisConnection::connect(options());
    if (!c) {
      ++errors;
      return;
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    while (std::chrono::steady_clock::now() < until) {
      auto grant = lease_tokens(**c, "ringmta:rate:test", {{rate, 10}}, 5);
      if (!grant) {
        ++errors;
        return;
      }
      granted += grant->granted;
      if (grant->granted == 0) {
        std::this_thread::sleep_for(
            std::chrono::milliseconds(std::max<Millis>(1, grant->retry_after)));
      }
    }
  };
  std::thread a(node), b(node);
  a.join();
  b.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_LE(granted.load(), 200u * 3 / 2 + 10u);
  EXPECT_GE(granted.load(), 200u * 3 / 2 * 9 / 10);
}

TEST_F(RedisTest, SaysWhenATokenFitsAgainAndSurvivesAScriptFlush) {
  auto c = RedisConnection::connect(options());
  ASSERT_TRUE(c);
  const scheduler::Rate slow = scheduler::Rate::per_minute(6);  // one token a 10 s
  auto first = lease_tokens(**c, "ringmta:rate:slow", {{slow, 1}}, 3);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->granted, 1u);
  auto none = lease_tokens(**c, "ringmta:rate:slow", {{slow, 1}}, 3);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->granted, 0u);
  EXPECT_GT(none->retry_after, 9000);
  EXPECT_LE(none->retry_after, 10'000);
  ASSERT_EQ((*c)->command({"SCRIPT", "FLUSH"})->text, "OK");
  auto again = lease_tokens(**c, "ringmta:rate:other", {{slow, 1}}, 3);  // EVALSHA fails: EVAL
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->granted, 1u);
}

TEST_F(RedisTest, ALeaseHoldsToTheTightestOfTheRulesRates) {
  // 1000/s but 6/minute (burst 3): three tokens now, then none for the minute's sake.
  auto c = RedisConnection::connect(options());
  ASSERT_TRUE(c);
  const std::vector<LeasedRate> rates{{scheduler::Rate::per_second(1000), 50},
                                      {scheduler::Rate::per_minute(6), 3}};
  auto first = lease_tokens(**c, "ringmta:rate:two", rates, 20);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->granted, 3u);
  auto none = lease_tokens(**c, "ringmta:rate:two", rates, 20);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->granted, 0u);
  EXPECT_GT(none->retry_after, 9000);
  // The per-second rate was advanced by the 3 granted, not by the 20 asked for.
  auto per_second = (*c)->command({"GET", "ringmta:rate:two:1000"});
  auto per_minute = (*c)->command({"GET", "ringmta:rate:two:60000"});
  ASSERT_EQ(per_second->type, RedisReply::Type::kString);
  ASSERT_EQ(per_minute->type, RedisReply::Type::kString);
}

TEST_F(RedisTest, ConnectionLeasesNeverExceedTheLimitAndExpireWithTheirTtl) {
  auto a = RedisConnection::connect(options());
  auto b = RedisConnection::connect(options());
  ASSERT_TRUE(a && b);
  const auto ask = [](RedisConnection& r, const char* node, uint32_t wanted, uint32_t held,
                      Millis ttl = 10'000) {
    auto got = hold_connection_leases(r, {"ringmta:connections:x", node, 3, ttl, wanted, held});
    EXPECT_TRUE(got) << got.error().message;
    return got ? got->held : 0u;
  };
  EXPECT_EQ(ask(**a, "a", 2, 0), 2u);
  EXPECT_EQ(ask(**b, "b", 3, 0), 1u);  // room for one more only
  EXPECT_EQ(ask(**a, "a", 2, 2), 2u);  // renewed
  EXPECT_EQ(ask(**a, "a", 1, 2), 1u);  // one given back
  EXPECT_EQ(ask(**b, "b", 3, 1), 2u);  // b takes it
  EXPECT_EQ((*a)->command({"ZCARD", "ringmta:connections:x"})->integer, 3);
  // a stops renewing (killed): with a 300 ms TTL its lease is free for b once that has passed.
  EXPECT_EQ(ask(**a, "a", 1, 1, 300), 1u);
  EXPECT_EQ(ask(**b, "b", 3, 2), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(ask(**b, "b", 3, 2), 3u);
}

TEST_F(RedisTest, AFreedConnectionLeaseGoesToTheNodeThatHasWaitedLongestNotToWhoeverAsksFirst) {
  auto r = RedisConnection::connect(options());
  ASSERT_TRUE(r);
  const auto ask = [&r](const char* node, uint32_t wanted, uint32_t held) {
    auto got =
        hold_connection_leases(**r, {"ringmta:connections:q", node, 2, 10'000, wanted, held});
    EXPECT_TRUE(got) << got.error().message;
    return got ? got->held : 0u;
  };
  EXPECT_EQ(ask("a", 2, 0), 2u);
  EXPECT_EQ(ask("b", 1, 0), 0u);  // b waits first,
  EXPECT_EQ(ask("c", 1, 0), 0u);  // then c
  // a's connection closes and it gives one lease back; asking again at once (it still has work),
  // it is behind both waiters, and c, though it asks before b, is behind b.
  EXPECT_EQ(ask("a", 1, 2), 1u);
  EXPECT_EQ(ask("a", 2, 1), 1u);
  EXPECT_EQ(ask("c", 1, 0), 0u);
  EXPECT_EQ(ask("b", 1, 0), 1u);
  // The next lease a gives back goes to c, who has waited longer than a and holds none.
  EXPECT_EQ(ask("a", 0, 1), 0u);
  EXPECT_EQ(ask("a", 1, 0), 0u);
  EXPECT_EQ(ask("c", 1, 0), 1u);
  // Fewest leases first: b and c hold one each; a, holding none, is ahead of b asking for a second.
  EXPECT_EQ(ask("b", 0, 1), 0u);
  EXPECT_EQ(ask("b", 1, 0), 0u);
  EXPECT_EQ(ask("a", 1, 0), 1u);
  EXPECT_EQ((*r)->command({"ZCARD", "ringmta:connections:q"})->integer, 2);
}

TEST_F(RedisTest, AWaiterThatStopsAskingLeavesTheQueue) {
  auto r = RedisConnection::connect(options());
  ASSERT_TRUE(r);
  const auto ask = [&r](const char* node, uint32_t wanted, uint32_t held) {
    ConnectionLeaseRequest request{"ringmta:connections:w", node, 1, 10'000, wanted, held};
    request.waiting_ttl = 200;
    auto got = hold_connection_leases(**r, request);
    EXPECT_TRUE(got) << got.error().message;
    return got ? got->held : 0u;
  };
  EXPECT_EQ(ask("a", 1, 0), 1u);
  EXPECT_EQ(ask("b", 1, 0), 0u);  // b waits, then its work runs out and it asks no more
  EXPECT_EQ(ask("a", 0, 1), 0u);
  EXPECT_EQ(ask("c", 1, 0), 0u);  // b is still ahead
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(ask("c", 1, 0), 1u);
}

TEST_F(RedisTest, HeartbeatsCountTheLiveNodes) {
  auto c = RedisConnection::connect(options());
  ASSERT_TRUE(c);
  const auto beat = [&](const char* node, Millis ttl) {
    auto live = heartbeat(**c, "ringmta", node, ttl);
    EXPECT_TRUE(live) << live.error().message;
    return live ? *live : 0u;
  };
  EXPECT_EQ(beat("a", 10'000), 1u);
  EXPECT_EQ(beat("b", 300), 2u);
  EXPECT_EQ(beat("c", 10'000), 3u);
  ASSERT_TRUE(leave(**c, "ringmta", "c"));
  EXPECT_EQ(beat("a", 10'000), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // b's heartbeat expired
  EXPECT_EQ(beat("a", 10'000), 1u);
}

TEST_F(RedisTest, LiveMembersComeWithTheURLsTheyGaveAndTheURLsOutliveTheirHeartbeat) {
  auto c = RedisConnection::connect(options());
  ASSERT_TRUE(c);
  ASSERT_TRUE(heartbeat(**c, "m", "b", 10'000, "http://10.0.0.2:9001/"));
  ASSERT_TRUE(heartbeat(**c, "m", "a", 10'000, "http://10.0.0.1:9001/"));
  ASSERT_TRUE(heartbeat(**c, "m", "c", 300));  // takes no parts: no URL
  auto live = live_members(**c, "m");
  ASSERT_TRUE(live) << live.error().message;
  ASSERT_EQ(live->size(), 3u);
  std::vector<std::pair<std::string, std::string>> seen;
  for (const Member& m : *live) seen.emplace_back(m.node, m.url);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{
                      {"a", "http://10.0.0.1:9001/"}, {"b", "http://10.0.0.2:9001/"}, {"c", ""}}));
  ASSERT_TRUE(leave(**c, "m", "b"));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // c expired
  live = live_members(**c, "m");
  ASSERT_TRUE(live);
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].node, "a");
  // b left, but a campaign's report still finds where it listens.
  auto urls = member_urls(**c, "m", {"b", "c", "nobody"});
  ASSERT_TRUE(urls) << urls.error().message;
  EXPECT_EQ(*urls, (std::vector<std::string>{"http://10.0.0.2:9001/", "", ""}));
}

TEST_F(RedisTest, ASlowDownCutsTheClustersRateOncePerHoldAndItGrowsBack) {
  auto c = RedisConnection::connect(options());
  ASSERT_TRUE(c);
  const RateFactorTuning tuning{.cut = 0.5, .floor = 0.2, .recovery = 1.0, .hold = 300};
  const auto factor = [&](bool slow_down) {
    auto f = cluster_rate_factor(**c, "ringmta:slowdown:x", slow_down, tuning);
    EXPECT_TRUE(f) << f.error().message;
    return f ? *f : -1.0;
  };
  EXPECT_DOUBLE_EQ(factor(false), 1.0);  // never cut
  EXPECT_NEAR(factor(true), 0.5, 0.01);
  EXPECT_NEAR(factor(true), 0.5, 0.02);  // within the hold: one cut for a burst of signals
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  EXPECT_NEAR(factor(true), 0.42, 0.05);  // grew to ~0.85 (1.0/s), then cut
  EXPECT_GE(factor(false), 0.2);          // never below the floor
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_DOUBLE_EQ(factor(false), 1.0);  // whole again
}

TEST_F(RedisTest, ARedisThatIsGoneIsAnErrorInBoundedTime) {
  auto c = RedisConnection::connect(options());
  ASSERT_TRUE(c);
  stop();
  const auto started = std::chrono::steady_clock::now();
  auto lost = lease_tokens(**c, "ringmta:rate:x", {{scheduler::Rate::per_second(10), 1}}, 1);
  EXPECT_FALSE(lost);
  EXPECT_FALSE(RedisConnection::connect(options()));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

}  // namespace
}  // namespace ringmta::cluster
