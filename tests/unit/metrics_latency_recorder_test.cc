// LatencyRecorder: quantiles within the bucket precision, exact small values, merge.
#include <gtest/gtest.h>

#include <cmath>

#include "metrics/latency_recorder.h"

namespace ringmta::metrics {
namespace {

TEST(LatencyRecorder, QuantilesAreWithinSevenPercent) {
  LatencyRecorder r;
  EXPECT_EQ(r.quantile(0.5), 0);
  for (uint64_t v = 1; v <= 100'000; ++v) r.add(v);  // uniform 1 µs .. 100 ms
  EXPECT_EQ(r.count(), 100'000u);
  EXPECT_EQ(r.max(), 100'000u);
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    double want = q * 100'000;
    EXPECT_NEAR(r.quantile(q), want, want * 0.07) << q;
  }
  EXPECT_LE(r.quantile(1.0), 100'000);
}

TEST(LatencyRecorder, SmallValuesAreExactAndHugeOnesFit) {
  LatencyRecorder r;
  for (int i = 0; i < 10; ++i) r.add(3);
  r.add(9);
  EXPECT_EQ(r.quantile(0.5), 3);
  EXPECT_EQ(r.quantile(1.0), 9);
  r.add(UINT64_MAX);
  EXPECT_EQ(r.max(), UINT64_MAX);
  EXPECT_GT(r.quantile(1.0), 1e18);
}

TEST(LatencyRecorder, MergeSumsTwoThreadsRecorders) {
  LatencyRecorder a, b;
  for (int i = 0; i < 900; ++i) a.add(1000);
  for (int i = 0; i < 100; ++i) b.add(50'000);
  a.merge(b);
  EXPECT_EQ(a.count(), 1000u);
  EXPECT_NEAR(a.quantile(0.5), 1000, 70);
  EXPECT_NEAR(a.quantile(0.95), 50'000, 3500);
  EXPECT_EQ(a.max(), 50'000u);
}

}  // namespace
}  // namespace ringmta::metrics
