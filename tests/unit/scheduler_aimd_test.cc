// Aimd: multiplicative cuts with a hold, additive steps after N successes, floor and ceiling, and
// change records naming the reply that caused them. Fake clock.
#include <gtest/gtest.h>

#include "scheduler/aimd.h"

namespace ringmta::scheduler {
namespace {

AimdOptions opts() {
  AimdOptions o;
  o.floor = 1;
  o.ceiling = 16;
  o.decrease = 0.5;
  o.step = 1;
  o.successes_per_step = 5;
  o.decrease_hold = 1000;
  return o;
}

TEST(Aimd, StartsAtCeilingUnlessToldOtherwise) {
  EXPECT_EQ(Aimd(opts()).value(), 16);
  AimdOptions o = opts();
  o.initial = 4;
  EXPECT_EQ(Aimd(o).value(), 4);
  o.initial = 100;
  EXPECT_EQ(Aimd(o).value(), 16);
}

TEST(Aimd, SlowDownHalvesAndRecordsTheReason) {
  Aimd a(opts());
  auto c = a.on_slow_down("421 4.7.0 Try again later", 5000);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, "connections");
  EXPECT_EQ(c->old_value, 16);
  EXPECT_EQ(c->new_value, 8);
  EXPECT_TRUE(c->decrease);
  EXPECT_EQ(c->reason, "421 4.7.0 Try again later");
  EXPECT_EQ(c->at, 5000);
  EXPECT_EQ(a.whole(), 8u);
}

TEST(Aimd, OneCutPerHoldSoABurstOfSignalsIsOneCut) {
  Aimd a(opts());
  EXPECT_TRUE(a.on_slow_down("421", 0));
  for (Millis t = 1; t < 1000; t += 50) EXPECT_FALSE(a.on_slow_down("421", t));
  EXPECT_EQ(a.value(), 8);
  EXPECT_TRUE(a.on_slow_down("421", 1000));
  EXPECT_EQ(a.value(), 4);
}

TEST(Aimd, NeverBelowFloor) {
  Aimd a(opts());
  for (int i = 0; i < 20; ++i) (void)a.on_slow_down("421", i * 1000);
  EXPECT_EQ(a.value(), 1);
  EXPECT_FALSE(a.on_slow_down("421", 100'000));
  EXPECT_EQ(a.whole(), 1u);
}

TEST(Aimd, SuccessesStepUpToTheCeiling) {
  AimdOptions o = opts();
  o.initial = 2;
  Aimd a(o);
  int changes = 0;
  for (int i = 0; i < 200; ++i) {
    if (auto c = a.on_success(i)) {
      ++changes;
      EXPECT_FALSE(c->decrease);
      EXPECT_EQ(c->new_value, c->old_value + 1);
      EXPECT_EQ(c->reason, "5 successes");
    }
  }
  EXPECT_EQ(changes, 14);
  EXPECT_EQ(a.value(), 16);
  EXPECT_FALSE(a.on_success(1000));
}

TEST(Aimd, ASlowDownResetsTheSuccessCount) {
  AimdOptions o = opts();
  o.initial = 4;
  Aimd a(o);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(a.on_success(0));
  ASSERT_TRUE(a.on_slow_down("421", 0));
  EXPECT_EQ(a.value(), 2);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(a.on_success(1));
  auto c = a.on_success(1);
  ASSERT_TRUE(c);
  EXPECT_EQ(a.value(), 3);
}

TEST(Aimd, RecoversAfterAMinuteOfPushback) {
  // 421s for a minute (one per 100 ms), then successes: down to the floor, then back up.
  Aimd a(opts());
  for (Millis t = 0; t < 60'000; t += 100) (void)a.on_slow_down("421", t);
  EXPECT_EQ(a.whole(), 1u);
  Millis t = 60'000;
  while (a.value() < 16 && t < 70'000) (void)a.on_success(t++);
  EXPECT_EQ(a.value(), 16);
}

TEST(Aimd, FractionalValuesAndSetCeiling) {
  AimdOptions o = opts();
  o.name = "rate";
  o.floor = 0.05;
  o.ceiling = 1;
  o.step = 0.1;
  Aimd a(o);
  auto c = a.on_slow_down("451 4.7.650 rate limited", 0);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, "rate");
  EXPECT_DOUBLE_EQ(a.value(), 0.5);
  a.set_ceiling(0.25);
  EXPECT_DOUBLE_EQ(a.value(), 0.25);
  EXPECT_EQ(a.whole(), 1u);  // whole() never says zero
}

}  // namespace
}  // namespace ringmta::scheduler
