// TokenBucket and parse_rate: bursts, refill per second/minute/hour, next_available agreeing with
// try_take, time going backwards, rate changes. Driven by a fake clock (plain Millis values).
#include <gtest/gtest.h>

#include "scheduler/token_bucket.h"

namespace ringmta::scheduler {
namespace {

TEST(TokenBucket, DefaultIsUnlimited) {
  TokenBucket b;
  for (int i = 0; i < 10000; ++i) EXPECT_TRUE(b.try_take(0));
  EXPECT_EQ(b.next_available(5), 5);
}

TEST(TokenBucket, BurstThenOnePerInterval) {
  TokenBucket b(Rate::per_second(10), 5, 1000);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(b.try_take(1000)) << i;
  EXPECT_FALSE(b.try_take(1000));
  EXPECT_EQ(b.next_available(1000), 1100);
  EXPECT_FALSE(b.try_take(1099));
  EXPECT_TRUE(b.try_take(1100));
  EXPECT_FALSE(b.try_take(1100));
}

TEST(TokenBucket, DefaultBurstIsOneSecondsWorthAtLeastOne) {
  EXPECT_EQ(TokenBucket::default_burst(Rate::per_second(50)), 50);
  EXPECT_EQ(TokenBucket::default_burst(Rate::per_minute(600)), 10);
  EXPECT_EQ(TokenBucket::default_burst(Rate::per_hour(100)), 1);
  TokenBucket b(Rate::per_minute(600), 0, 0);
  EXPECT_EQ(b.burst(), 10);
}

TEST(TokenBucket, LongRunRateMatchesPerSecondMinuteHour) {
  struct Case {
    Rate rate;
    Millis span;
    int expected;
  };
  for (const auto& c :
       {Case{Rate::per_second(10), 60'000, 600}, Case{Rate::per_minute(30), 3'600'000, 1800},
        Case{Rate::per_hour(7), 10 * 3'600'000, 70}}) {
    TokenBucket b(c.rate, 1, 0);
    int taken = 0;
    for (Millis t = 0; t < c.span; t = b.next_available(t)) {
      while (b.try_take(t)) ++taken;
    }
    // The burst of 1 at the start, then count per span (within a token of rounding).
    EXPECT_NEAR(taken, c.expected + 1, 1) << c.rate.str();
  }
}

TEST(TokenBucket, NextAvailableAlwaysAgreesWithTryTake) {
  for (double per_sec : {0.3, 1.0, 3.0, 7.0, 33.3, 999.0}) {
    TokenBucket b(Rate::per_second(per_sec), 2, 0);
    Millis t = 0;
    for (int i = 0; i < 200; ++i) {
      const Millis at = b.next_available(t);
      ASSERT_GE(at, t);
      if (at > t) {
        EXPECT_FALSE(b.try_take(at - 1)) << per_sec << " i=" << i;
      }
      ASSERT_TRUE(b.try_take(at)) << per_sec << " i=" << i;
      t = at;
    }
  }
}

TEST(TokenBucket, TimeGoingBackwardsAddsNothing) {
  TokenBucket b(Rate::per_second(1), 1, 10'000);
  EXPECT_TRUE(b.try_take(10'000));
  EXPECT_FALSE(b.try_take(5'000));
  EXPECT_FALSE(b.try_take(10'500));
  EXPECT_EQ(b.next_available(5'000), 11'000);
  EXPECT_TRUE(b.try_take(11'000));
}

TEST(TokenBucket, TokensCapAtBurstAfterIdle) {
  TokenBucket b(Rate::per_second(100), 3, 0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.try_take(0));
  EXPECT_DOUBLE_EQ(b.tokens(3'600'000), 3);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.try_take(3'600'000));
  EXPECT_FALSE(b.try_take(3'600'000));
}

TEST(TokenBucket, SetRateKeepsEarnedTokensAndAppliesNewPace) {
  TokenBucket b(Rate::per_second(10), 10, 0);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(b.try_take(0));
  b.set_rate(Rate::per_second(1), 0, 1);
  EXPECT_EQ(b.next_available(0), 1000);
  EXPECT_TRUE(b.try_take(1000));
  b.set_rate(Rate{}, 1000);  // unlimited
  EXPECT_TRUE(b.unlimited());
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(b.try_take(1000));
}

TEST(Rate, ParsesAndPrints) {
  auto r = parse_rate("600/minute");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Rate::per_minute(600));
  EXPECT_EQ(r->str(), "600/minute");
  EXPECT_DOUBLE_EQ(r->per_second_value(), 10);
  EXPECT_EQ(parse_rate("10/s")->str(), "10/second");
  EXPECT_EQ(parse_rate("2.5/hour")->str(), "2.5/hour");
  for (const char* bad :
       {"", "10", "x/second", "10/fortnight", "-1/second", "0/second", "1e999/s"}) {
    EXPECT_FALSE(parse_rate(bad).ok()) << bad;
  }
  EXPECT_EQ(Rate{}.str(), "unlimited");
}

}  // namespace
}  // namespace ringmta::scheduler
