// Cluster-wide message rates: tokens leased from Redis in batches by a GCRA (generic cell rate
// algorithm) whose theoretical arrival time lives in one Redis key per rate of a rule, advanced
// atomically by a Lua script: one round trip per batch for all the rule's rates (per second,
// minute, hour), whichever node asks, with Redis's clock (TIME) as the only clock, so nodes'
// clocks need not agree. A node asks for a batch of up to `want` tokens and gets those that fit
// every rate now; the batch size bounds how far the cluster can run ahead of the rate (at most one
// batch per node beyond rate × time + burst), which is why batches are small (a twentieth of a
// second's worth, say). Whichever node asks first gets what fits, so the agent also caps each
// node at a fair part of the rate (agent.h), from the number of nodes that want tokens.
// It may not: touch a shard, or cache tokens itself (the agent hands them to the SharedAllowance).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/redis_connection.h"
#include "scheduler/token_bucket.h"
#include "util/result.h"

namespace ringmta::cluster {

struct LeaseGrant {
  uint64_t granted = 0;
  Millis retry_after = 0;  // with none granted: when a token will fit every rate again
  uint32_t demanders = 1;  // nodes that asked for the rule's tokens in the last 250 ms
};

struct LeasedRate {
  scheduler::Rate rate;
  double burst = 0;  // tokens of tolerance; <= 0: one second's worth (TokenBucket::default_burst)
};

// Up to `want` tokens of every one of `rates` (unlimited ones ignored), from the GCRAs at
// KEY:<period in ms>, for `node` (counted among the demanders).
Result<LeaseGrant> lease_tokens(RedisConnection& redis, const std::string& key,
                                const std::vector<LeasedRate>& rates, uint64_t want,
                                const std::string& node = "");

}  // namespace ringmta::cluster
