// ThrottleGroup: one shard's throttle state for the destinations a throttle rule puts together
// (the smart host; a provider's MX hosts matched by `mx = ["*.google.com"]`; one MX host set
// under [default]), shared by the RouteWorkers of that shard that deliver there, with the count of
// their open connections. Each change the throttle makes is printed with the reply that caused it,
// counted, and handed to the metrics as a throttle event; the group's state (connections, limits,
// sessions, last refusal) is reported as a route for /status and /metrics.
// What several shards' traffic shares (the route's connections and message rates) is held in a
// scheduler::SharedAllowance found by the group's share_key: each shard's group keeps the whole
// limits and the allowance keeps the total (LimitSharing).
// It may not: be shared between shards (every shard builds its own), or read storage.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "metrics/counters.h"
#include "protocol/smtp_reply.h"
#include "scheduler/route_throttle.h"
#include "scheduler/shared_allowance.h"
#include "util/time.h"

namespace ringmta::engine {

// How a shard holds a rule's limits: with the other shards through their shared allowances, or
// (without a registry) as its fixed 1/shards part.
struct LimitSharing {
  int shards = 1;
  scheduler::SharedAllowances* allowances = nullptr;  // null: fixed parts
};

struct ThrottleGroup {
  ThrottleGroup(std::string name, std::string route, const scheduler::Limits& limits, Millis now)
      : name(std::move(name)), route(std::move(route)), throttle(limits, now) {}
  // From the rule's whole limits: shared as `sharing` says under share_key, or whole when the key
  // is "" (a rule for one domain, which only this shard delivers to).
  ThrottleGroup(std::string name, std::string route, const scheduler::Limits& whole,
                const LimitSharing& sharing, std::string share_key, Millis now);

  std::string name;   // "rule google (mx alt1.gmail-smtp-in.l.google.com)", for the log
  std::string route;  // the metrics label: "HOST:PORT" (smart host), "MX mx1.example.net"
  // What the group's limits were resolved from (ThrottleRules::resolve), to resolve them again
  // after a reload: the domain that made the group ("" for the smart host) and its MX hosts.
  std::string resolved_domain;
  std::vector<std::string> resolved_hosts;
  std::string share_key;  // the SharedAllowance's ("" = this shard's traffic alone)
  scheduler::RouteThrottle throttle;
  // Across the workers sharing the group: connections not yet closed (a receiver counts one until
  // it is gone), and of those the ones told to QUIT.
  uint32_t open_connections = 0;
  uint32_t closing_connections = 0;
  uint64_t sessions_ok = 0, sessions_failed = 0;
  metrics::LastReply last_refusal;  // at == 0: none yet
  UnixSeconds backing_off_until = 0;  // a worker backs the smart host off until then (0: not)
  metrics::RouteState reported;     // as last handed to the metrics

  // New configured limits (a reload): the throttle starts over from them, printed when they differ;
  // open connections stay (beyond a lower limit, they close as their work ends).
  void set_limits(const scheduler::Limits& limits, Millis now);
  // The rule's new whole limits (a reload), held as the constructor held them.
  void reload_limits(const scheduler::Limits& whole, const LimitSharing& sharing, Millis now);
  // Records a decisive reply's refusal (a positive reply leaves the last refusal as it was).
  void saw_reply(const protocol::Reply& reply, UnixSeconds now);
  // Hands the group's state to the metrics if it changed since the last report.
  void report(metrics::OutcomeTally& tally);
};

// Prints each change ("ringmta: throttle NAME: connections 8 -> 4 (421 4.7.0 ...)") to stderr,
// counts it and hands it to the metrics as a throttle event.
void report_throttle_changes(const ThrottleGroup& group,
                             const std::vector<scheduler::ThrottleChange>& changes,
                             metrics::ShardCounters& counters, UnixSeconds now);

}  // namespace ringmta::engine
