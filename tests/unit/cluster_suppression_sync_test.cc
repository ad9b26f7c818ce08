// SuppressionSync against a real redis-server (cluster_redis_server.h) and two real queues, one
// per node: a node's additions (SuppressionList::add and a hard bounce's OutcomeBatch) reach the
// other node's list through the stream, once, with the node named in the reason; the outbox
// empties as it is published, and nothing received goes back out; a node that was away catches up
// where it stopped (its stream position is kept in its queue), and its own entries are not
// applied to it again; a removal on one node takes the address off the other's list (the last
// word on an address in the stream wins), and every address applied is told to the callback
// (the running delivery's feed).
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <span>
#include <string>
#include <string_view>
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

// Two nodes' queues and a connection to the test's Redis.
class TwoNodes : public RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    a = must_open(dir_a.path());
    b = must_open(dir_b.path());
    ASSERT_TRUE(a && b);
    auto connected = RedisConnection::connect(options());
    ASSERT_TRUE(connected) << connected.error().message;
    redis = std::move(connected.value());
  }
  TempDir dir_a, dir_b;
  std::unique_ptr<storage::Queue> a, b;
  std::unique_ptr<RedisConnection> redis;
};

TEST_F(TwoNodes, ANodesSuppressionsReachTheOtherNodeOnceAndCatchUpAfterAnAbsence) {
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
  auto published = node_a.publish(*redis);
  ASSERT_TRUE(published) << published.error().message;
  EXPECT_EQ(*published, 2u);
  EXPECT_TRUE(SuppressionList(*a).outbox(10)->empty());
  EXPECT_EQ(count(node_a.publish(*redis)), 0u);  // nothing twice

  auto received = node_b.pull(*redis);
  ASSERT_TRUE(received) << received.error().message;
  EXPECT_EQ(*received, 2u);
  EXPECT_TRUE(listed(*b, "gone@example.net"));
  EXPECT_TRUE(listed(*b, "bounced@example.org"));
  EXPECT_EQ(reason_of(*b, "bounced@example.org"), "550 5.1.1 User unknown (suppressed on node a)");
  EXPECT_TRUE(SuppressionList(*b).outbox(10)->empty());  // received is not sent back out
  EXPECT_EQ(count(node_b.pull(*redis)), 0u);
  EXPECT_EQ(count(node_a.pull(*redis)), 0u);  // its own

  // b away (its sync gone, its queue closed) while a adds one more; back, it gets only that one.
  const std::string dir = dir_b.path();
  b.reset();
  const std::array<SuppressionEntry, 1> later{
      SuppressionEntry{"later@example.com", "complaint", "feedback loop", "c2", 1002}};
  ASSERT_TRUE(SuppressionList(*a).add(later));
  ASSERT_EQ(count(node_a.publish(*redis)), 1u);
  b = must_open(dir);
  SuppressionSync back(*b, "t", "b");
  EXPECT_EQ(count(back.pull(*redis)), 1u);
  EXPECT_TRUE(listed(*b, "later@example.com"));
}

TEST_F(TwoNodes, ARemovalOnOneNodeTakesTheAddressOffTheOthersAndAdditionsAreTold) {
  SuppressionSync node_a(*a, "r", "a");
  SuppressionSync node_b(*b, "r", "b");
  const std::array<SuppressionEntry, 2> two{
      SuppressionEntry{"stay@example.net", "manual", "asked", "", 1000},
      SuppressionEntry{"back@example.net", "manual", "asked", "", 1000}};
  ASSERT_TRUE(SuppressionList(*a).add(two));
  ASSERT_EQ(count(node_a.publish(*redis)), 2u);
  std::vector<std::string> told;
  const auto tell = [&told](std::string_view address) { told.emplace_back(address); };
  EXPECT_EQ(count(node_b.pull(*redis, tell)), 2u);
  EXPECT_EQ(told, (std::vector<std::string>{"back@example.net", "stay@example.net"}));
  ASSERT_TRUE(listed(*b, "back@example.net"));

  // Removed on a (in any case), and one not on the list: only the listed one is a removal to share.
  const std::array<std::string, 2> removing{"Back@Example.NET", "never@example.net"};
  auto removed = SuppressionList(*a).remove(removing);
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 1u);
  auto outbox = SuppressionList(*a).outbox(10);
  ASSERT_TRUE(outbox);
  ASSERT_EQ(outbox->size(), 1u);
  EXPECT_TRUE(outbox->front().removal);
  ASSERT_EQ(count(node_a.publish(*redis)), 1u);
  told.clear();
  EXPECT_EQ(count(node_b.pull(*redis, tell)), 1u);
  EXPECT_FALSE(listed(*b, "back@example.net"));
  EXPECT_TRUE(listed(*b, "stay@example.net"));
  EXPECT_TRUE(told.empty());  // a removal is not a suppression to withdraw

  // Added again and removed again before b reads: the last word wins.
  ASSERT_TRUE(SuppressionList(*a).add(std::span(two).subspan(1)));
  ASSERT_EQ(count(node_a.publish(*redis)), 1u);
  ASSERT_EQ(count(SuppressionList(*a).remove(removing)), 1u);
  ASSERT_EQ(count(node_a.publish(*redis)), 1u);
  EXPECT_EQ(count(node_b.pull(*redis, tell)), 1u);
  EXPECT_FALSE(listed(*b, "back@example.net"));
}

}  // namespace
}  // namespace ringmta::cluster
