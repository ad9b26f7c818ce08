// heartbeat, leave, live_members (see membership.h).
#include "cluster/membership.h"

#include <unistd.h>

#include <cstdio>

#include "cluster/redis_script.h"

namespace ringmta::cluster {
namespace {

// KEYS[1]: the nodes (score: expiry in ms of Redis's clock), KEYS[2]: their URLs;
// ARGV: node, TTL in ms, URL ("" = none given).
constexpr const char* kHeartbeat = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) end
return redis.call('ZCARD', KEYS[1])
)lua";

// KEYS as above; returns node, URL, node, URL, ... of the live nodes ("" for no URL).
constexpr const char* kLiveMembers = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  out[#out + 1] = node
  out[#out + 1] = redis.call('HGET', KEYS[2], node) or ''
end
return out
)lua";

std::string nodes_key(const std::string& prefix) {
  return prefix + ":nodes";
}
std::string urls_key(const std::string& prefix) {
  return prefix + ":node_urls";
}

Error redis_said(const std::string& what, const RedisReply& reply) {
  return make_error("Redis answered " + what + " with " +
                    (reply.type == RedisReply::Type::kError ? reply.text : "something else"));
}

}  // namespace

Result<uint32_t> heartbeat(RedisConnection& redis, const std::string& prefix,
                           const std::string& node, Millis ttl, const std::string& url) {
  static const RedisScript script(kHeartbeat);
  auto reply =
      script.run(redis, {nodes_key(prefix), urls_key(prefix)}, {node, std::to_string(ttl), url});
  if (!reply) return reply.error();
  if (reply->type != RedisReply::Type::kInteger || reply->integer < 1) {
    return redis_said("the heartbeat of " + node, *reply);
  }
  return static_cast<uint32_t>(reply->integer);
}

Result<void> leave(RedisConnection& redis, const std::string& prefix, const std::string& node) {
  auto reply = redis.command({"ZREM", nodes_key(prefix), node});
  if (!reply) return reply.error();
  if (reply->type == RedisReply::Type::kError) return make_error("Redis: " + reply->text);
  return {};
}

Result<std::vector<Member>> live_members(RedisConnection& redis, const std::string& prefix) {
  static const RedisScript script(kLiveMembers);
  auto reply = script.run(redis, {nodes_key(prefix), urls_key(prefix)}, {});
  if (!reply) return reply.error();
  if (reply->type != RedisReply::Type::kArray || reply->elements.size() % 2 != 0) {
    return redis_said("the list of live nodes", *reply);
  }
  std::vector<Member> members;
  for (std::size_t i = 0; i < reply->elements.size(); i += 2) {
    members.push_back({reply->elements[i].text, reply->elements[i + 1].text});
  }
  return members;
}

Result<std::vector<std::string>> member_urls(RedisConnection& redis, const std::string& prefix,
                                             const std::vector<std::string>& nodes) {
  if (nodes.empty()) return std::vector<std::string>{};
  std::vector<std::string> args{"HMGET", urls_key(prefix)};
  args.insert(args.end(), nodes.begin(), nodes.end());
  auto reply = redis.command(args);
  if (!reply) return reply.error();
  if (reply->type != RedisReply::Type::kArray || reply->elements.size() != nodes.size()) {
    return redis_said("the nodes' URLs", *reply);
  }
  std::vector<std::string> urls;
  for (const RedisReply& r : reply->elements) urls.push_back(r.text);  // nil: ""
  return urls;
}

std::string default_node_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "node");
  return std::string(host) + ":" + std::to_string(::getpid());
}

}  // namespace ringmta::cluster
