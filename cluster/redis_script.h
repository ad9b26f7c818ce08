// RedisScript: a Lua script run on Redis by its SHA-1 (EVALSHA), sent whole (EVAL) only when Redis
// does not have it yet (a new or restarted Redis answers NOSCRIPT): one round trip per call, and
// the script's text on the wire only once per Redis.
// It may not: interpret the script's reply (its caller does), or retry a broken connection.
#pragma once

#include <string>
#include <vector>

#include "cluster/redis_connection.h"
#include "util/result.h"

namespace ringmta::cluster {

class RedisScript {
 public:
  explicit RedisScript(std::string source);

  // The script's reply (a Redis error reply is a reply of type kError) or a connection Error.
  Result<RedisReply> run(RedisConnection& redis, const std::vector<std::string>& keys,
                         const std::vector<std::string>& args) const;

 private:
  std::string source_;
  std::string sha_;  // hex SHA-1 of source_, as Redis names scripts
};

}  // namespace ringmta::cluster
