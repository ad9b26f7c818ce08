// SuppressionSync against a real redis-server (cluster_redis_server.h) and two real queues, one
// per node: a node's additions (SuppressionList::add and a hard bounce's OutcomeBatch) reach the
// other node's list through the stream, once, with the node named in the reason; the outbox
// empties as it is published, and nothing received goes back out; a node that was away catches up
// where it stopped (its stream position is kept in its queue), and its own entries are not
// applied to it again.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "cluster/suppression_sync.h"
#include "cluster_redis_server.h"
#include "storage/records.h"
#include "storage_test_queue.h"

namespace ringmta::cluster {
namespace {

using redis_fixture::RedisTest;
using storage::SuppressionEntry;
using storage::SuppressionList;
using storage::test_support::must_open;
using storage::test_support::TempDir;

// A call's count, or a test failure with its error.
uint64_t count(const Result<uint64_t>& r) {
  EXPECT_TRUE(r) << r.error().message;
  return r ? r.value() : ~uint64_t{0};
}

bool listed(storage::Queue& q, const std::string& address) {
  const std::array<std::string, 1> one{address};
  auto found = SuppressionList(q).contains(one);
  return found && found->front();
}

std::string reason_of(storage::Queue& q, const std::string& address) {
  std::string reason;
  EXPECT_TRUE(SuppressionList(q).list([&](const SuppressionEntry& e) {
    if (e.address == address) reason = e.reason;
    return true;
  }));
  return reason;
}

TEST_F(RedisTest, ANodesSuppressionsReachTheOtherNodeOnceAndCatchUpAfterAnAbsence) {
  TempDir dir_a, dir_b;
  auto a = must_open(dir_a.path());
  auto b = must_open(dir_b.path());
  ASSERT_TRUE(a && b);
  auto redis = RedisConnection::connect(options());
  ASSERT_TRUE(redis) << redis.error().message;

  const std::array<SuppressionEntry, 1> manual{
      SuppressionEntry{"Gone@Example.NET", "manual", "asked by phone", "", 1000}};
  ASSERT_TRUE(SuppressionList(*a).add(manual));
  storage::OutcomeBatch batch;  // a hard bounce, written with the outcomes
  SuppressionList::add_to(
      batch, {"bounced@example.org", "bad_mailbox", "550 5.1.1 User unknown", "c1", 1001});
  ASSERT_TRUE(a->apply(std::move(batch)));
  ASSERT_EQ(SuppressionList(*a).outbox(10)->size(), 2u);

  SuppressionSync node_a(*a, "t", "a");
  SuppressionSync node_b(*b, "t", "b");
  auto published = node_a.publish(**redis);
  ASSERT_TRUE(published) << published.error().message;
  EXPECT_EQ(*published, 2u);
  EXPECT_TRUE(SuppressionList(*a).outbox(10)->empty());
  EXPECT_EQ(count(node_a.publish(**redis)), 0u);  // nothing twice

  auto received = node_b.pull(**redis);
  ASSERT_TRUE(received) << received.error().message;
  EXPECT_EQ(*received, 2u);
  EXPECT_TRUE(listed(*b, "gone@example.net"));
  EXPECT_TRUE(listed(*b, "bounced@example.org"));
  EXPECT_EQ(reason_of(*b, "bounced@example.org"), "550 5.1.1 User unknown (suppressed on node a)");
  EXPECT_TRUE(SuppressionList(*b).outbox(10)->empty());  // received is not sent back out
  EXPECT_EQ(count(node_b.pull(**redis)), 0u);
  EXPECT_EQ(count(node_a.pull(**redis)), 0u);  // its own

  // b away (its sync gone, its queue closed) while a adds one more; back, it gets only that one.
  const std::string dir = dir_b.path();
  b.reset();
  const std::array<SuppressionEntry, 1> later{
      SuppressionEntry{"later@example.com", "complaint", "feedback loop", "c2", 1002}};
  ASSERT_TRUE(SuppressionList(*a).add(later));
  ASSERT_EQ(count(node_a.publish(**redis)), 1u);
  b = must_open(dir);
  SuppressionSync back(*b, "t", "b");
  EXPECT_EQ(count(back.pull(**redis)), 1u);
  EXPECT_TRUE(listed(*b, "later@example.com"));
}

}  // namespace
}  // namespace ringmta::cluster
