// RedisConnection: one blocking connection to Redis, for the cluster agent's own thread (never a
// shard's: a shard only touches the lock-free scheduler::SharedAllowance the agent fills). TCP
// to HOST:PORT, AUTH with a password (and an ACL user) when given, commands formatted by hiredis
// (redisFormatCommandArgv) and replies parsed by hiredis's RESP reader; the socket is ringmta's, so
// every call is bounded by the timeout, and an unreachable or silent Redis is an error value that
// the caller answers with its fallback, never a hang or an exception.
// It may not: be shared between threads, retry on its own, or log.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "util/result.h"
#include "util/time.h"

namespace ringmta::cluster {

struct RedisReply {
  enum class Type { kString, kStatus, kInteger, kArray, kNil, kError };
  Type type = Type::kNil;
  std::string text;  // kString, kStatus, kError
  long long integer = 0;
  std::vector<RedisReply> elements;  // kArray
};

struct RedisOptions {
  std::string address = "127.0.0.1:6379";  // HOST:PORT or [IPv6]:PORT
  std::string user;                        // "" = AUTH with the password alone
  std::string password;                    // "" = no AUTH
  Millis timeout = 2000;                   // each connect, send and reply
};

class RedisConnection {
 public:
  static Result<std::unique_ptr<RedisConnection>> connect(const RedisOptions& options);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // One command and its reply; a Redis error reply is a reply (type kError), a broken or silent
  // connection an Error (the connection is then unusable: connect again).
  Result<RedisReply> command(const std::vector<std::string>& args);

 private:
  explicit RedisConnection(const RedisOptions& options) : options_(options) {}
  Result<void> send(const std::string& bytes);
  Result<RedisReply> receive();

  RedisOptions options_;
  int fd_ = -1;
  void* reader_ = nullptr;  // hiredis's redisReader, kept out of this header
};

}  // namespace ringmta::cluster
