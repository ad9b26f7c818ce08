// Cluster-wide connection limits: each open connection of a cluster-wide rule holds a lease, a
// member "NODE#i" of a Redis sorted set per rule scored with its expiry (Redis's clock). A node
// sets how many leases it holds (renewing those it keeps, adding what room allows, giving back the
// rest) in one Lua call; leases of a node that stops renewing (killed, cut off) expire after the
// TTL and their room goes to the other nodes, without an operator.
// It may not: touch a shard or decide how many leases a node needs (the agent does).
#pragma once

#include <cstdint>
#include <string>

#include "cluster/redis_connection.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::cluster {

struct ConnectionLeaseRequest {
  std::string key;               // the rule's sorted set
  std::string node;              // this node's id
  uint32_t max_connections = 0;  // the rule's cluster-wide limit (> 0)
  Millis ttl = 10'000;
  uint32_t wanted = 0;  // leases to hold after the call
  uint32_t held = 0;    // leases held before it (those above `wanted` are given back)
};

// The number of leases the node holds now (<= wanted), all valid for `ttl` from now.
Result<uint32_t> hold_connection_leases(RedisConnection& redis, const ConnectionLeaseRequest& r);

}  // namespace ringmta::cluster
