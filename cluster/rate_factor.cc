// cluster_rate_factor (see rate_factor.h): the script and its call.
#include "cluster/rate_factor.h"

#include <cstdio>
#include <cstdlib>

#include "cluster/redis_script.h"

namespace ringmta::cluster {
namespace {

// KEYS[1]: the rule's hash {factor, at}. ARGV: cut now (1/0), cut, floor, recovery per second,
// hold in ms. Returns the factor as a string (Redis would truncate a Lua number to an integer).
constexpr const char* kFactor = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cut, floor = tonumber(ARGV[2]), tonumber(ARGV[3])
local recovery, hold = tonumber(ARGV[4]), tonumber(ARGV[5])
local v = redis.call('HMGET', KEYS[1], 'factor', 'at')
local factor = tonumber(v[1]) or 1
local at = tonumber(v[2]) or 0
local current = math.min(1, factor + recovery * math.max(0, now - at) / 1000)
if ARGV[1] == '1' and (now - at >= hold or v[1] == false) then
  current = math.max(floor, current * cut)
  redis.call('HSET', KEYS[1], 'factor', string.format('%.6f', current), 'at', now)
  redis.call('PEXPIRE', KEYS[1], math.ceil((1 - current) / recovery * 1000) + hold + 1000)
end
return string.format('%.6f', current)
)lua";

}  // namespace

Result<double> cluster_rate_factor(RedisConnection& redis, const std::string& key, bool slow_down,
                                   const RateFactorTuning& tuning) {
  static const RedisScript script(kFactor);
  char cut[32], floor[32], recovery[32];
  std::snprintf(cut, sizeof cut, "%.6f", tuning.cut);
  std::snprintf(floor, sizeof floor, "%.6f", tuning.floor);
  std::snprintf(recovery, sizeof recovery, "%.6f", tuning.recovery);
  auto reply = script.run(
      redis, {key}, {slow_down ? "1" : "0", cut, floor, recovery, std::to_string(tuning.hold)});
  if (!reply) return reply.error();
  if (reply->type != RedisReply::Type::kString) {
    return make_error("Redis answered the rate factor of " + key + " with " +
                      (reply->type == RedisReply::Type::kError ? reply->text : "something else"));
  }
  const double factor = std::strtod(reply->text.c_str(), nullptr);
  if (!(factor > 0 && factor <= 1)) {
    return make_error("Redis holds a rate factor out of range for " + key + ": " + reply->text);
  }
  return factor;
}

}  // namespace ringmta::cluster
