// DomainTable: at most N labeled domains, the rest under "other"; slots go to a batch's largest
// domains; counters stay monotonic and the sum over all rows is the true total. And OutcomeTally's
// hand-off between a shard and the supervisor.
#include <gtest/gtest.h>

#include "metrics/domain_table.h"
#include "metrics/outcome_tally.h"

namespace ringmta::metrics {
namespace {

DomainDelta delta(std::string name, uint64_t delivered, uint64_t deferred = 0) {
  DomainDelta d;
  d.name = std::move(name);
  d.counts.delivered = delivered;
  d.counts.deferred = deferred;
  return d;
}

uint64_t total(const std::vector<DomainRow>& rows) {
  uint64_t n = 0;
  for (const auto& r : rows) n += r.counts.total();
  return n;
}

TEST(DomainTable, BoundsLabelsAndKeepsTheLargestOfABatch) {
  DomainTable t(2);
  DomainDelta small = delta("small.test", 1), big = delta("big.test", 100),
              mid = delta("mid.test", 10, 5);
  t.add({&small, &big, &mid});
  auto rows = t.rows();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].domain, "big.test");
  EXPECT_EQ(rows[1].domain, "mid.test");
  EXPECT_EQ(rows[1].counts.deferred, 5u);
  EXPECT_EQ(rows[2].domain, "other");
  EXPECT_EQ(rows[2].counts.delivered, 1u);
  EXPECT_EQ(total(rows), 116u);
}

TEST(DomainTable, SlotsAreStickyAndCountersMonotonic) {
  DomainTable t(1);
  DomainDelta a = delta("a.test", 1);
  t.add({&a});
  DomainDelta b = delta("b.test", 1000), a2 = delta("a.test", 1);
  t.add({&b, &a2});
  auto rows = t.rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].domain, "a.test");
  EXPECT_EQ(rows[0].counts.delivered, 2u);
  EXPECT_EQ(rows[1].counts.delivered, 1000u);
}

TEST(DomainTable, ManyDomainsStayBounded) {
  DomainTable t(kDefaultLabeledDomains);
  std::vector<DomainDelta> ds;
  for (int i = 0; i < 5000; ++i) ds.push_back(delta("d" + std::to_string(i) + ".test", 1 + i % 7));
  std::vector<const DomainDelta*> batch;
  for (const auto& d : ds) batch.push_back(&d);
  t.add(batch);
  auto rows = t.rows();
  EXPECT_EQ(rows.size(), kDefaultLabeledDomains + 1);
  uint64_t want = 0;
  for (const auto& d : ds) want += d.counts.total();
  EXPECT_EQ(total(rows), want);
  EXPECT_EQ(rows.front().counts.delivered, 7u);  // the largest got the slots
}

TEST(DomainTable, ZeroLabelsPutsEverythingInOther) {
  DomainTable t(0);
  DomainDelta a = delta("a.test", 3);
  t.add({&a});
  auto rows = t.rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].counts.delivered, 3u);
}

TEST(OutcomeTally, PublishesAtMostEveryIntervalAndFlushHandsEverything) {
  OutcomeTally t;
  t.delivered(1, "a.test", 7);
  t.publish(1000);
  t.deferred(1, "a.test", 7, 5000, "451 4.3.0 later", 100);
  t.publish(1000 + OutcomeTally::kPublishEvery - 1);  // too early: stays private
  TallyDelta got = t.take();
  ASSERT_EQ(got.domains.size(), 1u);
  EXPECT_EQ(got.domains[1].counts.delivered, 1u);
  EXPECT_EQ(got.domains[1].counts.deferred, 0u);
  t.failed(2, "b.test", 8, "550 no", 101);
  t.flush();
  got = t.take();
  EXPECT_EQ(got.domains[1].counts.deferred, 1u);
  EXPECT_EQ(got.domains[1].last.text, "451 4.3.0 later");
  EXPECT_EQ(got.domains[2].counts.failed, 1u);
  EXPECT_EQ(got.messages[7].deferred, 1u);
  EXPECT_EQ(got.messages[8].failed, 1u);
  EXPECT_EQ(got.deferred_until[5000], 1u);
  EXPECT_EQ(got.last.text, "550 no");
  EXPECT_TRUE(t.take().empty());
}

}  // namespace
}  // namespace ringmta::metrics
