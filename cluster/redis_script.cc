// RedisScript (see redis_script.h): EVALSHA, and EVAL on NOSCRIPT.
#include "cluster/redis_script.h"

#include <openssl/sha.h>

namespace ringmta::cluster {

RedisScript::RedisScript(std::string source) : source_(std::move(source)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source_.data()), source_.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char b : digest) {
    sha_ += kHex[b >> 4];
    sha_ += kHex[b & 15];
  }
}

Result<RedisReply> RedisScript::run(RedisConnection& redis, const std::vector<std::string>& keys,
                                    const std::vector<std::string>& args) const {
  std::vector<std::string> command{"EVALSHA", sha_, std::to_string(keys.size())};
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  auto reply = redis.command(command);
  if (reply && reply->type == RedisReply::Type::kError && reply->text.starts_with("NOSCRIPT")) {
    command[0] = "EVAL";
    command[1] = source_;
    reply = redis.command(command);
  }
  return reply;
}

}  // namespace ringmta::cluster
