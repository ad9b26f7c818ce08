// RetryPolicy: floor, growth, cap, jitter bounds and expiry, walked with a fake clock.
#include <gtest/gtest.h>

#include "scheduler/retry_policy.h"

namespace ringmta::scheduler {
namespace {

TEST(RetryPolicy, FirstRetryNeverBeforeTheMinimum) {
  RetryPolicy p;
  for (double r : {0.0, 0.5, 0.999}) {
    EXPECT_GE(next_retry(p, 1, 1000, r), 1000 + p.first_retry);
    EXPECT_LE(next_retry(p, 1, 1000, r), 1000 + p.first_retry * 1.2 + 1);
  }
}

TEST(RetryPolicy, GrowsThenCaps) {
  RetryPolicy p;
  p.jitter = 0;
  EXPECT_EQ(next_retry(p, 1, 0, 0), 300);
  EXPECT_EQ(next_retry(p, 2, 0, 0), 600);
  EXPECT_EQ(next_retry(p, 3, 0, 0), 1200);
  EXPECT_EQ(next_retry(p, 30, 0, 0), p.max_interval);
}

TEST(RetryPolicy, ExpiresAtMaxAge) {
  RetryPolicy p;
  EXPECT_FALSE(expired(p, 0, p.max_age - 1));
  EXPECT_TRUE(expired(p, 0, p.max_age));
}

TEST(RetryPolicy, DaysOfRetriesStayOrderedAndBounded) {
  RetryPolicy p;
  UnixSeconds now = 0;
  uint32_t attempts = 0;
  while (!expired(p, 0, now)) {
    UnixSeconds due = next_retry(p, ++attempts, now, 0.7);
    ASSERT_GT(due, now);
    ASSERT_LE(due - now, static_cast<UnixSeconds>(p.max_interval * 1.2) + 1);
    now = due;
  }
  EXPECT_GT(attempts, 10u);
  EXPECT_LT(attempts, 30u);
}

}  // namespace
}  // namespace ringmta::scheduler
