// Cluster membership: each node's heartbeat is its member in a Redis sorted set scored with its
// expiry (Redis's clock); a heartbeat renews it, drops the members that expired and counts the
// live nodes, in one Lua call. The count is what a node divides the cluster's limits by when Redis
// is away (its fallback share), so a node remembers the last one it saw.
// It may not: decide anything from the count (the agent does).
#pragma once

#include <cstdint>
#include <string>

#include "cluster/redis_connection.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::cluster {

// Renews `node` in the set at `key` for `ttl`; returns the live nodes (this one included).
Result<uint32_t> heartbeat(RedisConnection& redis, const std::string& key, const std::string& node,
                           Millis ttl);
// Takes `node` out at once (a clean stop): the others' count drops without waiting for the TTL.
Result<void> leave(RedisConnection& redis, const std::string& key, const std::string& node);

}  // namespace ringmta::cluster
