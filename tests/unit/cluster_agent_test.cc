// ClusterAgent against a real redis-server (cluster_redis_server.h), two "nodes" in one process
// (each its own SharedAllowances and agent, as two ringmta processes would have): a cluster-wide
// rate holds for both together, connection leases keep the cluster-wide connection limit and move
// to the node that needs them, and with Redis gone each node falls back to its share (the limit
// divided by the live nodes it last counted) and returns to the shared limits when Redis is back.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "cluster/agent.h"
#include "cluster_redis_server.h"
#include "util/time.h"

namespace ringmta::cluster {
namespace {

using redis_fixture::RedisTest;
using std::chrono::milliseconds;

scheduler::Limits cluster_rule(double per_second, uint32_t connections) {
  scheduler::Limits limits;
  limits.cluster = true;
  limits.messages_per_second = scheduler::Rate::per_second(per_second);
  limits.message_burst = 1;
  limits.max_connections = connections;
  return limits;
}

struct Node {
  scheduler::SharedAllowances allowances;
  std::shared_ptr<scheduler::SharedAllowance> rule;
  std::unique_ptr<ClusterAgent> agent;

  Node(const RedisOptions& redis, const std::string& id, const scheduler::Limits& limits) {
    rule = allowances.get("rule test", limits, monotonic_now());
    AgentOptions options;
    options.redis = redis;
    options.prefix = "test";
    options.node = id;
    agent = std::make_unique<ClusterAgent>(options, allowances);
  }

  // Messages sent as fast as the allowance lets for `how_long`.
  uint64_t send_for(milliseconds how_long) {
    uint64_t sent = 0;
    const auto until = std::chrono::steady_clock::now() + how_long;
    while (std::chrono::steady_clock::now() < until) {
      Millis retry_at = 0;
      if (rule->try_send(monotonic_now(), retry_at)) {
        ++sent;
      } else {
        std::this_thread::sleep_for(milliseconds(1));
      }
    }
    return sent;
  }
};

// Waits (bounded) until pred() holds.
template <typename Pred>
bool eventually(Pred pred, milliseconds within = milliseconds(5000)) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return pred();
}

TEST_F(RedisTest, TwoNodesTogetherKeepTheClusterWideRate) {
  // 200/s for both: each alone could take far more (the local cells allow 200/s each).
  Node a(options(), "a", cluster_rule(200, 0));
  Node b(options(), "b", cluster_rule(200, 0));
  ASSERT_TRUE(eventually([&] { return a.agent->status().redis_up && b.agent->status().redis_up; }));
  std::atomic<uint64_t> from_b{0};
  std::thread other([&] { from_b = b.send_for(milliseconds(2000)); });
  const uint64_t from_a = a.send_for(milliseconds(2000));
  other.join();
  const uint64_t total = from_a + from_b.load();
  // 400 in 2 s, plus at most one batch per node (10 tokens at 200/s) and the rule's burst.
  EXPECT_LE(total, 400u + 2 * 10 + 2) << from_a << " + " << from_b.load();
  EXPECT_GE(total, 400u * 95 / 100) << from_a << " + " << from_b.load();
  EXPECT_GT(from_a, 100u);
  EXPECT_GT(from_b.load(), 100u);
  EXPECT_EQ(a.agent->status().live_nodes, 2u);
}

TEST_F(RedisTest, ASlowDownSeenByOneNodeCutsTheRateOfBoth) {
  Node a(options(), "a", cluster_rule(200, 0));
  Node b(options(), "b", cluster_rule(200, 0));
  ASSERT_TRUE(eventually([&] { return a.agent->status().redis_up && b.agent->status().redis_up; }));
  a.rule->note_slow_down();  // a 421 at one of a's shards
  // b reads the factor within its second; then both together send about half of 200/s.
  std::this_thread::sleep_for(milliseconds(1100));
  std::atomic<uint64_t> from_b{0};
  std::thread other([&] { from_b = b.send_for(milliseconds(1000)); });
  const uint64_t from_a = a.send_for(milliseconds(1000));
  other.join();
  const uint64_t total = from_a + from_b.load();
  EXPECT_LE(total, 150u) << from_a << " + " << from_b.load();  // 200 uncut
  EXPECT_GE(total, 90u) << from_a << " + " << from_b.load();
  // Each node is capped at 1.5 / 2 of the rate while both want tokens: the other gets a quarter or
  // more.
  EXPECT_GE(from_b.load() * 5, total) << from_a << " + " << from_b.load();
}

TEST_F(RedisTest, ConnectionLeasesHoldTheClusterWideLimitAndMoveToTheNodeThatNeedsThem) {
  Node a(options(), "a", cluster_rule(0, 2));
  Node b(options(), "b", cluster_rule(0, 2));
  // a opens two (each refusal asks its agent for one more lease).
  uint32_t opened = 0;
  ASSERT_TRUE(eventually([&] {
    if (a.rule->try_open()) ++opened;
    return opened == 2;
  }));
  // b gets none while a holds both.
  std::this_thread::sleep_for(milliseconds(200));
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(b.rule->try_open());
    std::this_thread::sleep_for(milliseconds(10));
  }
  // a closes one; its idle lease goes back after a second, and b's next try gets it.
  a.rule->closed();
  ASSERT_TRUE(eventually([&] { return b.rule->try_open(); }));
  EXPECT_FALSE(a.rule->try_open());
  // a stops cleanly: its last lease is given back at once, b takes it.
  a.agent.reset();
  ASSERT_TRUE(eventually([&] { return b.rule->try_open(); }, milliseconds(1000)));
  EXPECT_EQ(b.rule->open_connections(), 2u);
}

TEST_F(RedisTest, WithRedisGoneEachNodeTakesItsShareAndTheSharedLimitsReturnWithIt) {
  Node a(options(), "a", cluster_rule(200, 4));
  Node b(options(), "b", cluster_rule(200, 4));
  ASSERT_TRUE(eventually([&] { return a.agent->status().live_nodes == 2; }));
  stop();  // Redis killed
  ASSERT_TRUE(eventually([&] { return !a.agent->status().redis_up; }));
  EXPECT_FALSE(a.rule->leasing());
  EXPECT_EQ(a.agent->status().fallbacks, 1u);
  EXPECT_FALSE(a.agent->status().last_error.empty());
  // Half of 200/s and of 4 connections each (2 live nodes last counted), without Redis.
  const uint64_t sent = a.send_for(milliseconds(1000));
  EXPECT_GE(sent, 90u);
  EXPECT_LE(sent, 110u);
  EXPECT_EQ(a.rule->max_connections(), 2u);
  EXPECT_TRUE(a.rule->try_open());
  EXPECT_TRUE(a.rule->try_open());
  EXPECT_FALSE(a.rule->try_open());
  a.rule->closed();
  a.rule->closed();
  start();  // Redis back (empty: a restart without persistence)
  ASSERT_TRUE(eventually([&] { return a.agent->status().redis_up && a.rule->leasing(); }));
  EXPECT_EQ(a.rule->max_connections(), 4u);
  EXPECT_GE(a.send_for(milliseconds(500)), 50u);  // leasing again: tokens arrive
}

}  // namespace
}  // namespace ringmta::cluster
