// Cluster membership: each node's heartbeat is its member in a Redis sorted set (PREFIX:nodes)
// scored with its expiry (Redis's clock); a heartbeat renews it, drops the members that expired
// and counts the live nodes, in one Lua call. The count is what a node divides the cluster's
// limits by when Redis is away (its fallback share), so a node remembers the last one it saw.
// A node that takes parts of campaigns (`serve --cluster-listen`) also records the URL the others
// reach it at (PREFIX:node_urls, kept after the node stops: a campaign's report asks every node
// that took a part of it, live or not).
// It may not: decide anything from the count (the agent does).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/redis_connection.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::cluster {

struct Member {
  std::string node;
  std::string url;  // "" = takes no parts of campaigns
};

// Renews `node` in PREFIX:nodes for `ttl` (and its URL when given); returns the live nodes (this
// one included).
Result<uint32_t> heartbeat(RedisConnection& redis, const std::string& prefix,
                           const std::string& node, Millis ttl, const std::string& url = {});
// Takes `node` out at once (a clean stop): the others' count drops without waiting for the TTL.
Result<void> leave(RedisConnection& redis, const std::string& prefix, const std::string& node);
// The live nodes, by name, with their URLs.
Result<std::vector<Member>> live_members(RedisConnection& redis, const std::string& prefix);
// The URLs of `nodes` as last recorded ("" for a node that never gave one).
Result<std::vector<std::string>> member_urls(RedisConnection& redis, const std::string& prefix,
                                             const std::vector<std::string>& nodes);

// HOSTNAME:PID, the node's name when --cluster-node gives none.
std::string default_node_id();

}  // namespace ringmta::cluster
