// RouteThrottle: one route's throttle state for a per-route worker: the resolved Limits, token
// buckets for messages and connection opens, and two AIMD controllers (connections, and a factor
// on the configured message rates) driven by the replies the route sees.
//
// How a worker uses it (all times are the loop's monotonic Millis):
//   open a connection only if may_open_connection(now, open) (else retry at next_open_at(now));
//   start a message only if may_send(now) (else retry at next_send_at(now));
//   close a connection after max_messages_per_connection() messages; put at most
//   max_recipients_per_transaction() RCPTs in one transaction;
//   feed each decisive reply (greeting, each recipient's RCPT/DATA outcome, ringmta's own
//   connect failures) to on_reply(reply, now), or on_connect_failed(reason, now) /
//   on_connected(now) for TCP events; log every ThrottleChange it returns.
// With a SharedAllowance (share()), the route's total across shards is held there as well: a
// connection or message needs the shared allowance's yes too, and connection_closed() gives a
// connection back to it.
// Sans-I/O: it may not read clocks, log, or know about connections beyond the counts given.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/smtp_reply.h"
#include "scheduler/aimd.h"
#include "scheduler/shared_allowance.h"
#include "scheduler/throttle_rules.h"
#include "scheduler/token_bucket.h"
#include "util/time.h"

namespace ringmta::scheduler {

struct ThrottleTuning {
  double decrease = 0.5;             // multiplicative cut on a slow-down signal
  uint32_t successes_per_step = 20;  // successes per additive step up
  double connection_step = 1;        // connections added per step
  double rate_step = 0.1;            // share of the configured rate added per step
  double min_rate_factor = 0.05;     // rates are never cut below this share
  Millis decrease_hold = 2000;       // one cut per burst of signals
  uint32_t refused_burst = 3;        // this many refused connections ...
  Millis refused_window = 10'000;    // ... within this long are one slow-down signal
};

using ThrottleChange = AimdChange;  // name is "connections" or "rate"

class RouteThrottle {
 public:
  static constexpr Millis kSharedOpenRetry = 100;  // after the shared connection limit said no
  static constexpr Millis kLeaseOpenRetry = 10;    // after a cluster-wide rule had no lease
  RouteThrottle(const Limits& limits, Millis now, ThrottleTuning tuning = {});

  // True if one more connection may be opened now, given `open` connections (open or opening);
  // a true answer takes a connection-open token.
  bool may_open_connection(Millis now, uint32_t open);
  // When may_open_connection could next say yes as far as the open rate goes (now if it could).
  Millis next_open_at(Millis now) const;
  // True if a message may start now; a true answer takes a token from every message bucket.
  bool may_send(Millis now);
  // When may_send could next say yes (now if it could).
  Millis next_send_at(Millis now) const;

  // Feeds a reply. Slow-down replies (is_slow_down) cut connections and rate; positive replies
  // count as successes; ringmta's "connection refused" counts towards a refused burst.
  std::vector<ThrottleChange> on_reply(const protocol::Reply& reply, Millis now);
  // A TCP connect that failed (reason as text, e.g. "connection refused"): refused bursts cut.
  std::vector<ThrottleChange> on_connect_failed(std::string_view reason, Millis now);
  // A connection that opened: ends any refused burst.
  void on_connected(Millis now);
  // A connection that may_open_connection allowed has closed.
  void connection_closed();

  // The route's allowance shared with the other shards (null: this throttle holds it alone).
  void share(std::shared_ptr<SharedAllowance> shared) { shared_ = std::move(shared); }
  const std::shared_ptr<SharedAllowance>& shared() const { return shared_; }

  uint32_t allowed_connections() const { return connections_.whole(); }
  uint32_t max_messages_per_connection() const { return limits_.max_messages_per_connection; }
  uint32_t max_recipients_per_transaction() const { return limits_.max_recipients_per_transaction; }
  // The share of the configured message rates currently allowed, in (0, 1].
  double rate_factor() const { return rate_.value(); }
  // The tightest current message rate in messages per second; 0 = unlimited.
  double messages_per_second() const;
  const Limits& limits() const { return limits_; }

 private:
  std::vector<ThrottleChange> slow_down(std::string reason, Millis now);
  void apply_rate_factor(Millis now);

  Limits limits_;
  ThrottleTuning tuning_;
  std::vector<TokenBucket> message_buckets_;  // the configured rates (scaled by rate_factor)
  std::vector<Rate> message_rates_;           // as configured, for rescaling
  std::vector<TokenBucket> open_buckets_;
  Aimd connections_;
  Aimd rate_;
  std::vector<Millis> refused_;  // times of recent refused connects, oldest first
  std::shared_ptr<SharedAllowance> shared_;
  Millis shared_send_at_ = 0;  // when the shared rates have a token again (after a no)
  Millis shared_open_at_ = 0;  // when to ask the shared connection limit again (after a no)
};

}  // namespace ringmta::scheduler
