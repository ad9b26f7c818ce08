// lease_tokens (see rate_lease.h): the GCRA script and its call.
#include "cluster/rate_lease.h"

#include <algorithm>
#include <cmath>

#include "cluster/redis_script.h"

namespace ringmta::cluster {
namespace {

// KEYS[i]: a rate's theoretical arrival time (µs of Redis's clock); ARGV: tokens wanted, then per
// key µs per token and µs of tolerance, then the node. Grants what fits every rate and advances
// them all; notes the node as wanting tokens for 250 ms (KEYS[1]:demand); returns {granted, ms
// until one fits when none was granted, nodes that wanted tokens in the last 250 ms}. Numbers are
// written with %.0f: Lua's own number-to-string would round 16 digits to 14.
constexpr const char* kGcra = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local granted = tonumber(ARGV[1])
local wait = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local tolerance = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  tats[i] = tat
  local room = math.floor((now + tolerance - tat) / interval) + 1
  if room < 0 then room = 0 end
  if room < granted then granted = room end
  if room == 0 then wait = math.max(wait, math.ceil((tat - tolerance - now) / 1000)) end
end
local demand = KEYS[1] .. ':demand'
redis.call('ZREMRANGEBYSCORE', demand, '-inf', math.floor(now / 1000))
redis.call('ZADD', demand, math.floor(now / 1000) + 250, ARGV[#ARGV])
redis.call('PEXPIRE', demand, 1000)
local demanders = redis.call('ZCARD', demand)
if granted == 0 then return {0, wait, demanders} end
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local tolerance = tonumber(ARGV[2 * i + 1])
  local tat = tats[i] + granted * interval
  redis.call('SET', key, string.format('%.0f', tat), 'PX',
             string.format('%.0f', math.ceil((tat - now) / 1000) + tolerance / 1000 + 1000))
end
return {granted, 0, demanders}
)lua";

}  // namespace

Result<LeaseGrant> lease_tokens(RedisConnection& redis, const std::string& key,
                                const std::vector<LeasedRate>& rates, uint64_t want,
                                const std::string& node) {
  static const RedisScript script(kGcra);
  std::vector<std::string> keys;
  std::vector<std::string> args{std::to_string(want)};
  for (const LeasedRate& r : rates) {
    if (r.rate.unlimited()) continue;
    const double interval = static_cast<double>(r.rate.per_ms) * 1000.0 / r.rate.count;
    const double tokens = r.burst > 0 ? r.burst : scheduler::TokenBucket::default_burst(r.rate);
    keys.push_back(key + ":" + std::to_string(r.rate.per_ms));
    args.push_back(std::to_string(std::max<long long>(1, std::llround(interval))));
    args.push_back(std::to_string(std::llround(std::max(0.0, tokens - 1) * interval)));
  }
  if (keys.empty() || want == 0) return LeaseGrant{want, 0, 1};
  args.push_back(node);
  auto reply = script.run(redis, keys, args);
  if (!reply) return reply.error();
  if (reply->type == RedisReply::Type::kError) {
    return make_error("Redis refused the rate lease for " + key + ": " + reply->text);
  }
  if (reply->type != RedisReply::Type::kArray || reply->elements.size() != 3) {
    return make_error("Redis answered the rate lease for " + key + " with something else");
  }
  return LeaseGrant{static_cast<uint64_t>(std::max(0LL, reply->elements[0].integer)),
                    static_cast<Millis>(std::max(0LL, reply->elements[1].integer)),
                    static_cast<uint32_t>(std::max(1LL, reply->elements[2].integer))};
}

}  // namespace ringmta::cluster
