// SuppressionInbox: entries a writer drops while a job holds the queue reach the list and the
// delivery's feed, and the writer returns once they are taken.
#include <gtest/gtest.h>

#include <filesystem>
#include <unordered_set>

#include "jobs/suppression_inbox.h"
#include "storage_test_queue.h"

namespace ringmta::jobs {
namespace {

TEST(SuppressionInbox, EntriesReachTheListAndTheFeedAndTheInboxGoesWithTheJob) {
  storage::test_support::TempDir dir;
  auto queue = storage::test_support::must_open(dir.path());
  ASSERT_NE(queue, nullptr);
  const std::vector<storage::SuppressionEntry> entries{
      {.address = "Ann@Example.org", .category = "manual", .reason = "by\tphone\n", .since = 42}};
  // No job watching: the writer is told so, and writes nothing.
  auto none = SuppressionInbox::deliver(dir.path(), entries);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  auto feed = std::make_shared<engine::SuppressionFeed>();
  {
    auto inbox = SuppressionInbox::watch(dir.path(), *queue, feed);
    ASSERT_TRUE(inbox.ok()) << inbox.error().message;
    auto taken = SuppressionInbox::deliver(dir.path(), entries);
    ASSERT_TRUE(taken.ok()) << taken.error().message;
    EXPECT_TRUE(*taken);
    const std::vector<std::string> ann{"ann@example.org"};
    auto listed = storage::SuppressionList(*queue).contains(ann);
    ASSERT_TRUE(listed.ok());
    EXPECT_TRUE((*listed)[0]);
    std::unordered_set<std::string> fed;
    uint64_t seen = 0;
    feed->take_since(seen, fed);
    EXPECT_TRUE(fed.contains("ann@example.org"));
  }
  EXPECT_FALSE(std::filesystem::exists(SuppressionInbox::dir_of(dir.path())));
  std::vector<storage::SuppressionEntry> kept;
  ASSERT_TRUE(storage::SuppressionList(*queue)
                  .list([&kept](const storage::SuppressionEntry& e) {
                    kept.push_back(e);
                    return true;
                  })
                  .ok());
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].reason, "by phone ");  // tabs and line breaks flattened
  EXPECT_EQ(kept[0].since, 42);
  EXPECT_EQ(kept[0].category, "manual");
}

}  // namespace
}  // namespace ringmta::jobs
