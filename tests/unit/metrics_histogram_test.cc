// ShardHistogram buckets and sums, snapshots over shards, and DurationTracker's fixed ring.
#include <gtest/gtest.h>

#include "metrics/duration_tracker.h"
#include "metrics/histogram.h"

namespace ringmta::metrics {
namespace {

TEST(ShardHistogram, BucketsAreInclusiveUpperBounds) {
  ShardHistogram h(kSecondsBuckets);
  h.observe_micros(0);
  h.observe_micros(1000);  // exactly 0.001
  h.observe_micros(1001);
  h.observe_micros(61'000'000);
  EXPECT_EQ(h.bucket(0), 2u);
  EXPECT_EQ(h.bucket(1), 1u);
  EXPECT_EQ(h.bucket(std::size(kSecondsBuckets)), 1u);
  EXPECT_EQ(h.sum_micros(), 61'002'001u);
}

TEST(HistogramSnapshot, SumsShards) {
  ShardHistogram a(kLatencyBuckets), b(kLatencyBuckets);
  a.observe_micros(2'000'000);
  b.observe_micros(2'500'000);
  b.observe_micros(200'000'000'000);
  HistogramSnapshot s(kLatencyBuckets);
  s.add(a);
  s.add(b);
  EXPECT_EQ(s.count(), 3u);
  EXPECT_EQ(s.counts[1], 2u);  // le 5
  EXPECT_EQ(s.counts.back(), 1u);
  EXPECT_DOUBLE_EQ(s.sum_seconds, 200'004.5);
}

TEST(DurationTracker, MeasuresAndForgets) {
  DurationTracker<8> t;
  t.start(1, 100);
  t.start(2, 150);
  EXPECT_EQ(t.finish(1, 400), std::optional<uint64_t>(300));
  EXPECT_EQ(t.finish(1, 500), std::nullopt);  // already finished
  EXPECT_EQ(t.finish(2, 150), std::optional<uint64_t>(0));
  EXPECT_EQ(t.finish(3, 150), std::nullopt);  // never started
}

TEST(DurationTracker, AnIdOverwrittenByALaterOneIsDroppedNotMismeasured) {
  DurationTracker<4> t;
  t.start(1, 0);
  t.start(5, 1000);  // same slot
  EXPECT_EQ(t.finish(1, 2000), std::nullopt);
  EXPECT_EQ(t.finish(5, 2000), std::optional<uint64_t>(1000));
}

}  // namespace
}  // namespace ringmta::metrics
