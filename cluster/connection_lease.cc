// hold_connection_leases (see connection_lease.h): the lease script and its call.
#include "cluster/connection_lease.h"

#include <algorithm>

#include "cluster/redis_script.h"

namespace ringmta::cluster {
namespace {

// KEYS[1]: the rule's leases (member NODE#i, score: expiry in ms of Redis's clock); KEYS[2]: the
// nodes waiting for one (score: expiry); KEYS[3]: the same nodes scored with their place in the
// queue (in the order they began to wait). ARGV: node, cluster-wide maximum, TTL in ms, leases
// wanted, leases held before, waiting TTL in ms. Expired leases and waiters go first;
// NODE#1..wanted are renewed, or taken while the room left is more than the waiters ahead of this
// node (those holding fewer leases, then those that began to wait earlier); the node's others are
// given back. Returns {held, contenders, others waiting}.
constexpr const char* kLeases = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local node = ARGV[1]
local max = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local wanted = tonumber(ARGV[4])
local held = tonumber(ARGV[5])
local waiting_ttl = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local holding = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local owner = string.match(member, '^(.*)#%d+$')
  if owner then holding[owner] = (holding[owner] or 0) + 1 end
end
local queued = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
local queue = {}  -- the other waiters, {node, place}
for i = 1, #queued, 2 do
  local owner = queued[i]
  if redis.call('ZSCORE', KEYS[2], owner) then
    if owner ~= node then table.insert(queue, {owner, tonumber(queued[i + 1])}) end
  else
    redis.call('ZREM', KEYS[3], owner)
  end
end
-- A place in the queue: after the last waiter's (a clock could give two nodes the same).
local since = tonumber(redis.call('ZSCORE', KEYS[3], node))
if not since then since = #queued > 0 and tonumber(queued[#queued]) + 1 or 0 end
local function ahead(mine)
  local n = 0
  for _, w in ipairs(queue) do
    local theirs = holding[w[1]] or 0
    if theirs < mine or (theirs == mine and w[2] < since) then n = n + 1 end
  end
  return n
end
local got = 0
local mine = holding[node] or 0
for i = 1, wanted do
  local member = node .. '#' .. i
  if redis.call('ZSCORE', KEYS[1], member) then
    redis.call('ZADD', KEYS[1], now + ttl, member)
    got = i
  elseif max - redis.call('ZCARD', KEYS[1]) > ahead(mine) then
    redis.call('ZADD', KEYS[1], now + ttl, member)
    mine = mine + 1
    got = i
  else
    break
  end
end
for i = got + 1, math.max(held, wanted) do
  redis.call('ZREM', KEYS[1], node .. '#' .. i)
end
if got < wanted then
  redis.call('ZADD', KEYS[2], now + waiting_ttl, node)
  redis.call('ZADD', KEYS[3], since, node)
else
  redis.call('ZREM', KEYS[2], node)
  redis.call('ZREM', KEYS[3], node)
end
local contenders = {}
local count = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local owner = string.match(member, '^(.*)#%d+$')
  if owner and not contenders[owner] then contenders[owner] = true; count = count + 1 end
end
for _, w in ipairs(queue) do
  if not contenders[w[1]] then contenders[w[1]] = true; count = count + 1 end
end
if not contenders[node] then count = count + 1 end
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('PEXPIRE', key, 2 * ttl) end
end
return {got, count, #queue}
)lua";

}  // namespace

Result<ConnectionLeases> hold_connection_leases(RedisConnection& redis,
                                                const ConnectionLeaseRequest& r) {
  static const RedisScript script(kLeases);
  auto reply =
      script.run(redis, {r.key, r.key + ":waiting", r.key + ":queue"},
                 {r.node, std::to_string(r.max_connections), std::to_string(r.ttl),
                  std::to_string(r.wanted), std::to_string(r.held), std::to_string(r.waiting_ttl)});
  if (!reply) return reply.error();
  if (reply->type == RedisReply::Type::kError) {
    return make_error("Redis refused the connection leases of " + r.key + ": " + reply->text);
  }
  if (reply->type != RedisReply::Type::kArray || reply->elements.size() != 3) {
    return make_error("Redis answered the connection leases of " + r.key + " with something else");
  }
  return ConnectionLeases{
      static_cast<uint32_t>(std::clamp<long long>(reply->elements[0].integer, 0, r.wanted)),
      static_cast<uint32_t>(std::max<long long>(1, reply->elements[1].integer)),
      static_cast<uint32_t>(std::max<long long>(0, reply->elements[2].integer))};
}

}  // namespace ringmta::cluster
