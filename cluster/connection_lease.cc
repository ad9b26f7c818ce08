// hold_connection_leases (see connection_lease.h): the lease script and its call.
#include "cluster/connection_lease.h"

#include <algorithm>

#include "cluster/redis_script.h"

namespace ringmta::cluster {
namespace {

// KEYS[1]: the rule's leases (member NODE#i, score: expiry in ms of Redis's clock); KEYS[2]: the
// nodes waiting for one (score: expiry). ARGV: node, cluster-wide maximum, TTL in ms, leases
// wanted, leases held before. Expired leases go first; NODE#1..wanted are renewed or taken while
// there is room; the node's others are given back. Returns {held, contenders, others waiting}.
constexpr const char* kLeases = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local node = ARGV[1]
local max = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local wanted = tonumber(ARGV[4])
local held = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local got = 0
for i = 1, wanted do
  local member = node .. '#' .. i
  if redis.call('ZSCORE', KEYS[1], member) or redis.call('ZCARD', KEYS[1]) < max then
    redis.call('ZADD', KEYS[1], now + ttl, member)
    got = i
  else
    break
  end
end
for i = got + 1, math.max(held, wanted) do
  redis.call('ZREM', KEYS[1], node .. '#' .. i)
end
if got < wanted then
  redis.call('ZADD', KEYS[2], now + math.ceil(ttl * 2 / 3), node)
else
  redis.call('ZREM', KEYS[2], node)
end
local contenders = {}
local count = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local owner = string.match(member, '^(.*)#%d+$')
  if owner and not contenders[owner] then contenders[owner] = true; count = count + 1 end
end
for _, owner in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if not contenders[owner] then contenders[owner] = true; count = count + 1 end
end
if not contenders[node] then count = count + 1 end
local waiting = redis.call('ZCARD', KEYS[2])
if redis.call('ZSCORE', KEYS[2], node) then waiting = waiting - 1 end
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('PEXPIRE', key, 2 * ttl) end
end
return {got, count, waiting}
)lua";

}  // namespace

Result<ConnectionLeases> hold_connection_leases(RedisConnection& redis,
                                                const ConnectionLeaseRequest& r) {
  static const RedisScript script(kLeases);
  auto reply = script.run(redis, {r.key, r.key + ":waiting"},
                          {r.node, std::to_string(r.max_connections), std::to_string(r.ttl),
                           std::to_string(r.wanted), std::to_string(r.held)});
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
