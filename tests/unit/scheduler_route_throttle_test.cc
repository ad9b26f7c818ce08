// RouteThrottle: connection cap and open rate, message buckets, AIMD cuts on 421 / rate-limit
// replies and refused-connection bursts, recovery on successes; a cluster-wide rule's cut told to
// its shared allowance for the cluster agent. Fake clock.
#include <gtest/gtest.h>

#include "protocol/smtp_reply.h"
#include "scheduler/route_throttle.h"
#include "scheduler/shared_allowance.h"

namespace ringmta::scheduler {
namespace {

protocol::Reply reply(int code, const char* enhanced, const char* text) {
  protocol::Reply r;
  r.code = code;
  if (enhanced) {
    int k = 0, s = 0, d = 0;
    std::sscanf(enhanced, "%d.%d.%d", &k, &s, &d);
    r.enhanced = protocol::EnhancedCode{k, s, d};
    r.lines.push_back(std::string(enhanced) + " " + text);
  } else {
    r.lines.push_back(text);
  }
  return r;
}

TEST(RouteThrottle, UnlimitedRatesAlwaysSend) {
  RouteThrottle t(Limits{}, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(t.may_send(0));
  EXPECT_EQ(t.next_send_at(7), 7);
  EXPECT_EQ(t.messages_per_second(), 0);
  EXPECT_EQ(t.allowed_connections(), 16u);
  EXPECT_EQ(t.max_messages_per_connection(), 1000u);
  EXPECT_EQ(t.max_recipients_per_transaction(), 100u);
}

TEST(RouteThrottle, TwoConnectionsAndTenMessagesPerSecondAreNeverExceeded) {
  Limits l;
  l.max_connections = 2;
  l.messages_per_second = Rate::per_second(10);
  RouteThrottle t(l, 0);
  EXPECT_TRUE(t.may_open_connection(0, 0));
  EXPECT_TRUE(t.may_open_connection(0, 1));
  EXPECT_FALSE(t.may_open_connection(0, 2));
  int sent = 0;
  for (Millis now = 0; now < 10'000; ++now) {
    while (t.may_send(now)) ++sent;
  }
  EXPECT_LE(sent, 10 + 100);  // the burst (one second's worth) + 10/s for 10 s
  EXPECT_GE(sent, 100);
}

TEST(RouteThrottle, AllConfiguredRatesMustAllow) {
  Limits l;
  l.messages_per_second = Rate::per_second(100);
  l.messages_per_hour = Rate::per_hour(5);
  l.message_burst = 1;
  RouteThrottle t(l, 0);
  EXPECT_TRUE(t.may_send(0));
  EXPECT_FALSE(t.may_send(1000));  // per second allows, per hour does not
  EXPECT_EQ(t.next_send_at(1000), 720'000);
  EXPECT_TRUE(t.may_send(720'000));
  EXPECT_DOUBLE_EQ(t.messages_per_second(), 5.0 / 3600);
}

TEST(RouteThrottle, ConnectionOpenRate) {
  Limits l;
  l.connections_per_minute = Rate::per_minute(6);
  l.connection_burst = 2;
  RouteThrottle t(l, 0);
  EXPECT_TRUE(t.may_open_connection(0, 0));
  EXPECT_TRUE(t.may_open_connection(0, 1));
  EXPECT_FALSE(t.may_open_connection(0, 2));
  EXPECT_EQ(t.next_open_at(0), 10'000);
  EXPECT_TRUE(t.may_open_connection(10'000, 2));
  // The cap check does not spend a token.
  Limits capped = l;
  capped.max_connections = 1;
  RouteThrottle c(capped, 0);
  EXPECT_FALSE(c.may_open_connection(0, 1));
  EXPECT_TRUE(c.may_open_connection(0, 0));
  EXPECT_TRUE(c.may_open_connection(0, 0));  // a second token was still there
}

TEST(RouteThrottle, FourTwentyOneCutsConnectionsAndRateAndSaysWhy) {
  Limits l;
  l.max_connections = 16;
  l.messages_per_second = Rate::per_second(100);
  RouteThrottle t(l, 0);
  auto changes = t.on_reply(reply(421, "4.7.0", "Too many connections, slow down"), 1000);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].name, "connections");
  EXPECT_EQ(changes[0].old_value, 16);
  EXPECT_EQ(changes[0].new_value, 8);
  EXPECT_EQ(changes[0].reason, "421 4.7.0 Too many connections, slow down");
  EXPECT_EQ(changes[1].name, "rate");
  EXPECT_DOUBLE_EQ(changes[1].new_value, 0.5);
  EXPECT_EQ(t.allowed_connections(), 8u);
  EXPECT_DOUBLE_EQ(t.messages_per_second(), 50);
  // The burst shrank too: at most 50 at once, then 50/s.
  int sent = 0;
  while (t.may_send(1000)) ++sent;
  EXPECT_LE(sent, 50);
}

TEST(RouteThrottle, AMinuteOf421ThenRecovery) {
  Limits l;
  l.max_connections = 8;
  RouteThrottle t(l, 0);
  for (Millis now = 0; now < 60'000; now += 250) {
    (void)t.on_reply(reply(421, "4.7.0", "Try again later"), now);
  }
  EXPECT_EQ(t.allowed_connections(), 1u);
  protocol::Reply ok = reply(250, "2.0.0", "OK");
  Millis now = 60'000;
  int steps = 0;
  while (t.allowed_connections() < 8 && now < 120'000) {
    steps += static_cast<int>(t.on_reply(ok, now).size());
    now += 10;
  }
  EXPECT_EQ(t.allowed_connections(), 8u);
  EXPECT_EQ(steps, 7);
}

TEST(RouteThrottle, NonSlowDownFailuresChangeNothing) {
  RouteThrottle t(Limits{}, 0);
  EXPECT_TRUE(t.on_reply(reply(550, "5.1.1", "User unknown"), 0).empty());
  EXPECT_TRUE(t.on_reply(reply(450, "4.7.1", "Greylisted"), 0).empty());
  EXPECT_EQ(t.allowed_connections(), 16u);
}

TEST(RouteThrottle, RefusedConnectionsCountOnlyInABurst) {
  RouteThrottle t(Limits{}, 0);
  EXPECT_TRUE(t.on_connect_failed("Connection refused", 0).empty());
  EXPECT_TRUE(t.on_connect_failed("Connection refused", 20'000).empty());    // window passed
  EXPECT_TRUE(t.on_connect_failed("connection timed out", 20'001).empty());  // not a refusal
  EXPECT_TRUE(t.on_connect_failed("Connection refused", 21'000).empty());
  auto changes = t.on_connect_failed("Connection refused", 22'000);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].new_value, 8);
  EXPECT_NE(changes[0].reason.find("3 refused connections within 10 s"), std::string::npos)
      << changes[0].reason;
  // A successful connect ends a burst.
  (void)t.on_connect_failed("Connection refused", 30'000);
  (void)t.on_connect_failed("Connection refused", 30'001);
  t.on_connected(30'002);
  EXPECT_TRUE(t.on_connect_failed("Connection refused", 30'003).empty());
  // ringmta's local reply for a refused connect is counted the same way.
  auto local = protocol::Reply::make_local(451, "4.4.1", "connect: Connection refused");
  EXPECT_TRUE(t.on_reply(local, 50'000).empty());
  EXPECT_TRUE(t.on_reply(local, 50'001).empty());
  EXPECT_EQ(t.on_reply(local, 50'002).size(), 1u);
  EXPECT_EQ(t.allowed_connections(), 4u);
}

TEST(RouteThrottleSharing, ASlowDownOfAClusterWideRuleIsToldToTheClusterAgent) {
  Limits whole;
  whole.messages_per_second = Rate::per_second(50);
  whole.message_burst = 1;
  whole.max_connections = 2;
  auto local = std::make_shared<SharedAllowance>(whole, 0);
  whole.cluster = true;
  auto cluster = std::make_shared<SharedAllowance>(whole, 0);
  RouteThrottle one(whole, 0), two(whole, 0);
  one.share(local);
  two.share(cluster);
  (void)one.on_reply(reply(421, "4.7.0", "Too many connections, slow down"), 1000);
  (void)two.on_reply(reply(421, "4.7.0", "Too many connections, slow down"), 1000);
  EXPECT_EQ(local->take_slow_downs(), 0u);  // not a cluster's rule: the shard's own cut only
  EXPECT_EQ(cluster->take_slow_downs(), 1u);
  (void)two.on_reply(reply(250, "2.0.0", "Ok"), 1100);
  EXPECT_EQ(cluster->take_slow_downs(), 0u);
}

}  // namespace
}  // namespace ringmta::scheduler
