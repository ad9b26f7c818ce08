// Adaptive backoff across the cluster: a provider's 421 or "slow down" seen by one node cuts the
// cluster-wide rate of its rule for every node. The share of the rule's rates allowed now lives
// in one Redis hash per rule (factor, time of the last cut, Redis's clock); a cut halves it (at
// most once per `hold`, however many nodes saw the signal; never below `floor`), and it grows back
// by `recovery` of the rate per second of quiet until it is whole again and the key expires.
// One Lua call reads it, or cuts and reads it.
// It may not: lease tokens (rate_lease.h applies the factor the agent reads here).
#pragma once

#include <string>

#include "cluster/redis_connection.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::cluster {

struct RateFactorTuning {
  double cut = 0.5;
  double floor = 0.05;
  double recovery = 0.05;  // of the configured rate per second: from half to whole in 10 s
  Millis hold = 2000;
};

// The rule's factor now (0 < factor <= 1), after a cut when `slow_down` is set.
Result<double> cluster_rate_factor(RedisConnection& redis, const std::string& key, bool slow_down,
                                   const RateFactorTuning& tuning = {});

}  // namespace ringmta::cluster
