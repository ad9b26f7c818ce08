// ThrottleGroup: one shard's throttle state for the destinations a throttle rule puts together
// (the smart host; a provider's MX hosts matched by `mx = ["*.google.com"]`; one MX host set
// under [default]), shared by the RouteWorkers of that shard that deliver there, with the count of
// their open connections. Each change the throttle makes is printed with the reply that caused it
// and counted for the metrics.
// It may not: be shared between shards (every shard builds its own), or read storage.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "metrics/counters.h"
#include "scheduler/route_throttle.h"
#include "util/time.h"

namespace ringmta::engine {

struct ThrottleGroup {
  ThrottleGroup(std::string name, const scheduler::Limits& limits, Millis now)
      : name(std::move(name)), throttle(limits, now) {}

  std::string name;  // "rule google (mx alt1.gmail-smtp-in.l.google.com)", for the log
  scheduler::RouteThrottle throttle;
  // Across the workers sharing the group: connections not yet closed (a receiver counts one until
  // it is gone), and of those the ones told to QUIT.
  uint32_t open_connections = 0;
  uint32_t closing_connections = 0;
};

// Prints each change ("ringmta: throttle NAME: connections 8 → 4 after 421 4.7.0 ...") to stderr
// and counts it.
void report_throttle_changes(const ThrottleGroup& group,
                             const std::vector<scheduler::ThrottleChange>& changes,
                             metrics::ShardCounters& counters);

}  // namespace ringmta::engine
