// Cluster-wide connection limits: each open connection of a cluster-wide rule holds a lease, a
// member "NODE#i" of a Redis sorted set per rule scored with its expiry (Redis's clock). A node
// sets how many leases it holds (renewing those it keeps, adding what room allows, giving back the
// rest) in one Lua call; leases of a node that stops renewing (killed, cut off) expire after the
// TTL and their room goes to the other nodes, without an operator.
// A node that gets fewer than it wanted joins the rule's queue of waiters (it stays there while it
// keeps asking, at least every `waiting_ttl`): a freed lease goes to the waiter holding the fewest,
// then to the one that has waited longest, never to whoever happens to ask first (the node that
// just gave it back asks first, and would keep it for ever). Every call answers how many nodes
// contend for the rule's connections (holding or waiting), so that a node holding more than its
// fair share gives some back as its connections close: without it, nodes with work would keep
// their leases for ever and a third node never send.
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
  // A waiter that has not asked again for this long has left the queue (a node with work asks
  // every few tens of milliseconds; one whose work ran out stops asking).
  Millis waiting_ttl = 1'000;
};

struct ConnectionLeases {
  uint32_t held = 0;  // leases the node holds now (<= wanted), valid for `ttl` from now
  uint32_t contenders =
      1;  // nodes holding or waiting for the rule's connections, this one included
  uint32_t others_waiting = 0;  // other nodes that got fewer leases than they wanted
  // This node's fair share of the limit: the limit divided among the contenders (rounded up).
  uint32_t fair_share(uint32_t max_connections) const {
    return (max_connections + contenders - 1) / (contenders > 0 ? contenders : 1);
  }
};

Result<ConnectionLeases> hold_connection_leases(RedisConnection& redis,
                                                const ConnectionLeaseRequest& r);

}  // namespace ringmta::cluster
