// ProgressMeter: the progress line's rate follows the last half minute, not the whole run.
#include <gtest/gtest.h>

#include "metrics/progress_meter.h"

namespace ringmta::metrics {
namespace {

TEST(ProgressMeter, TheRateAndTimeLeftFollowTheRecentRateNotTheAverage) {
  ProgressMeter meter;
  // A minute at 1,000/s, then the provider throttles to 100/s.
  uint64_t done = 0;
  for (Millis t = 0; t <= 60'000; t += 1000, done += 1000) meter.update(t, done, 100'000 - done);
  ProgressReading fast = meter.update(61'000, done, 100'000 - done);
  EXPECT_NEAR(fast.per_second, 1000, 1);
  for (Millis t = 62'000; t <= 100'000; t += 1000) {
    done += 100;
    fast = meter.update(t, done, 100'000 - done);
  }
  // Since the start the average is still ~670/s; the last 30 s say 100/s.
  EXPECT_NEAR(fast.per_second, 100, 1);
  ASSERT_TRUE(fast.seconds_left);
  EXPECT_NEAR(static_cast<double>(*fast.seconds_left), (100'000.0 - done) / 100, 1);
}

TEST(ProgressMeter, BeforeTwoSamplesTheAverageAndNothingLeftNoTime) {
  ProgressMeter meter;
  ProgressReading first = meter.update(500, 50, 950);
  EXPECT_NEAR(first.per_second, 100, 0.01);
  ASSERT_TRUE(first.seconds_left);
  EXPECT_EQ(*first.seconds_left, 10u);
  EXPECT_FALSE(meter.update(2000, 1000, 0).seconds_left);
  EXPECT_FALSE(ProgressMeter().update(0, 0, 10).seconds_left);  // no rate yet
}

}  // namespace
}  // namespace ringmta::metrics
