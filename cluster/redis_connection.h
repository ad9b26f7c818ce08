// RedisConnection: one blocking connection to Redis, for the cluster agent's own thread (never a
// shard's: a shard only touches the lock-free scheduler::SharedAllowance the agent fills). TCP
// to HOST:PORT, AUTH with a password (and an ACL user) when given, commands formatted by hiredis
// (redisFormatCommandArgv) and replies parsed by hiredis's RESP reader; the socket is ringmta's, so
// every call is bounded by the timeout, and an unreachable or silent Redis is an error value that
// the caller answers with its fallback, never a hang or an exception.
// With RedisOptions::tls, the connection is TLS (OpenSSL over the same socket, the certificate
// and name verified).
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
  // TLS (Redis's tls-port): the server's certificate verified against ca_file (default: the
  // system's CAs) and tls_name (default: the address's host); a client certificate when Redis
  // asks for one (tls-auth-clients).
  bool tls = false;
  std::string ca_file;
  std::string tls_name;
  std::string cert_file;
  std::string key_file;
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
  Result<void> start_tls(const std::string& host);
  // One read or write of at most n bytes over the socket or TLS: bytes moved, 0 at the peer's
  // close, or an Error (the timeout included).
  Result<std::size_t> read_some(char* data, std::size_t n);
  Result<std::size_t> write_some(const char* data, std::size_t n);

  RedisOptions options_;
  int fd_ = -1;
  void* reader_ = nullptr;   // hiredis's redisReader, kept out of this header
  void* ssl_ctx_ = nullptr;  // OpenSSL's SSL_CTX and SSL while TLS is on
  void* ssl_ = nullptr;
};

}  // namespace ringmta::cluster
