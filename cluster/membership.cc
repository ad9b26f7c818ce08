// heartbeat and leave (see membership.h).
#include "cluster/membership.h"

#include "cluster/redis_script.h"

namespace ringmta::cluster {
namespace {

// KEYS[1]: the nodes (score: expiry in ms of Redis's clock); ARGV: node, TTL in ms.
constexpr const char* kHeartbeat = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return redis.call('ZCARD', KEYS[1])
)lua";

}  // namespace

Result<uint32_t> heartbeat(RedisConnection& redis, const std::string& key, const std::string& node,
                           Millis ttl) {
  static const RedisScript script(kHeartbeat);
  auto reply = script.run(redis, {key}, {node, std::to_string(ttl)});
  if (!reply) return reply.error();
  if (reply->type != RedisReply::Type::kInteger || reply->integer < 1) {
    return make_error("Redis answered the heartbeat of " + node + " with " +
                      (reply->type == RedisReply::Type::kError ? reply->text : "something else"));
  }
  return static_cast<uint32_t>(reply->integer);
}

Result<void> leave(RedisConnection& redis, const std::string& key, const std::string& node) {
  auto reply = redis.command({"ZREM", key, node});
  if (!reply) return reply.error();
  if (reply->type == RedisReply::Type::kError) return make_error("Redis: " + reply->text);
  return {};
}

}  // namespace ringmta::cluster
