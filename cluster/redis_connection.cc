// RedisConnection implementation: a non-blocking socket waited on with poll(), hiredis's reader.
#include "cluster/redis_connection.h"

#include <hiredis/hiredis.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/errno_text.h"
#include "util/poll_wait.h"

namespace ringmta::cluster {
namespace {

// "HOST:PORT" or "[V6]:PORT" into its parts; false if malformed.
bool split_address(const std::string& address, std::string& host, std::string& port) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) return false;
  host = address.substr(0, colon);
  port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return !host.empty();
}

// OpenSSL's queued errors as one line (and the queue emptied).
std::string openssl_error() {
  std::string out;
  char line[256];
  while (const unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, line, sizeof line);
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out.empty() ? "unknown error" : out;
}

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<RedisConnection>> RedisConnection::connect(const RedisOptions& options) {
  std::string host, port;
  if (!split_address(options.address, host, port)) {
    return make_error("Redis address '" + options.address + "': expected HOST:PORT");
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return make_error("Redis " + options.address + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(found, ::freeaddrinfo);
  std::unique_ptr<RedisConnection> c(new RedisConnection(options));
  c->fd_ = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd_ < 0) return make_error("socket: " + errno_text(errno));
  if (::connect(c->fd_, found->ai_addr, found->ai_addrlen) < 0 && errno != EINPROGRESS) {
    return make_error("cannot connect to Redis at " + options.address + ": " + errno_text(errno));
  }
  if (!wait_ready(c->fd_, POLLOUT, options.timeout)) {
    return make_error("cannot connect to Redis at " + options.address + ": timed out");
  }
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(c->fd_, SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) {
    return make_error("cannot connect to Redis at " + options.address + ": " + errno_text(error));
  }
  if (options.tls) {
    if (auto tls = c->start_tls(host); !tls) return tls.error();
  }
  c->reader_ = redisReaderCreate();
  if (c->reader_ == nullptr) return make_error("hiredis: cannot make a reader");
  if (!options.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!options.user.empty()) auth.push_back(options.user);
    auth.push_back(options.password);
    auto answer = c->command(auth);
    if (!answer) return answer.error();
    if (answer->type == RedisReply::Type::kError) {
      return make_error("Redis " + options.address + " refused AUTH: " + answer->text);
    }
  }
  return c;
}

RedisConnection::~RedisConnection() {
  if (reader_ != nullptr) redisReaderFree(static_cast<redisReader*>(reader_));
  if (ssl_ != nullptr) SSL_free(static_cast<SSL*>(ssl_));
  if (ssl_ctx_ != nullptr) SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
  if (fd_ >= 0) ::close(fd_);
}

Result<RedisReply> RedisConnection::command(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  char* formatted = nullptr;
  const long long size = redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()),
                                                argv.data(), lengths.data());
  if (size < 0) return make_error("hiredis: cannot format the command");
  std::string bytes(formatted, static_cast<std::size_t>(size));
  redisFreeCommand(formatted);
  if (auto sent = send(bytes); !sent) return sent.error();
  return receive();
}

Result<void> RedisConnection::start_tls(const std::string& host) {
  const std::string where = "Redis " + options_.address + ": TLS";
  auto* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return make_error(where + ": " + openssl_error());
  ssl_ctx_ = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  const bool cas = options_.ca_file.empty()
                       ? SSL_CTX_set_default_verify_paths(ctx) == 1
                       : SSL_CTX_load_verify_locations(ctx, options_.ca_file.c_str(), nullptr) == 1;
  if (!cas)
    return make_error(where + ": cannot load the CA file '" + options_.ca_file +
                      "': " + openssl_error());
  if (!options_.cert_file.empty()) {
    const std::string key = options_.key_file.empty() ? options_.cert_file : options_.key_file;
    if (SSL_CTX_use_certificate_chain_file(ctx, options_.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return make_error(where + ": cannot load the client certificate '" + options_.cert_file +
                        "': " + openssl_error());
    }
  }
  auto* ssl = SSL_new(ctx);
  if (ssl == nullptr) return make_error(where + ": " + openssl_error());
  ssl_ = ssl;
  const std::string name = options_.tls_name.empty() ? host : options_.tls_name;
  SSL_set_fd(ssl, fd_);
  SSL_set_tlsext_host_name(ssl, name.c_str());
  SSL_set1_host(ssl, name.c_str());
  for (;;) {
    const int rc = SSL_connect(ssl);
    if (rc == 1) return {};
    const int e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (!wait_ready(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, options_.timeout)) {
        return make_error(where + " handshake timed out");
      }
      continue;
    }
    const long verify = SSL_get_verify_result(ssl);
    return make_error(where + " handshake failed: " +
                      (verify != X509_V_OK ? std::string(X509_verify_cert_error_string(verify)) +
                                                 " (verifying the certificate for " + name + ")"
                                           : openssl_error()));
  }
}

Result<std::size_t> RedisConnection::write_some(const char* data, std::size_t n) {
  for (;;) {
    if (ssl_ == nullptr) {
      if (!wait_ready(fd_, POLLOUT, options_.timeout)) {
        return make_error("Redis " + options_.address + ": timed out sending");
      }
      const ssize_t sent = ::send(fd_, data, n, MSG_NOSIGNAL);
      if (sent < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (sent <= 0) return make_error("Redis " + options_.address + ": " + errno_text(errno));
      return static_cast<std::size_t>(sent);
    }
    auto* ssl = static_cast<SSL*>(ssl_);
    const int sent = SSL_write(ssl, data, static_cast<int>(n));
    if (sent > 0) return static_cast<std::size_t>(sent);
    const int e = SSL_get_error(ssl, sent);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (!wait_ready(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, options_.timeout)) {
        return make_error("Redis " + options_.address + ": timed out sending");
      }
      continue;
    }
    return make_error("Redis " + options_.address + ": TLS: " + openssl_error());
  }
}

Result<std::size_t> RedisConnection::read_some(char* data, std::size_t n) {
  for (;;) {
    if (ssl_ == nullptr) {
      if (!wait_ready(fd_, POLLIN, options_.timeout)) {
        return make_error("Redis " + options_.address + ": no reply in time");
      }
      const ssize_t got = ::recv(fd_, data, n, 0);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got < 0) return make_error("Redis " + options_.address + ": " + errno_text(errno));
      return static_cast<std::size_t>(got);
    }
    auto* ssl = static_cast<SSL*>(ssl_);
    const int got = SSL_read(ssl, data, static_cast<int>(n));
    if (got > 0) return static_cast<std::size_t>(got);
    const int e = SSL_get_error(ssl, got);
    if (e == SSL_ERROR_ZERO_RETURN) return std::size_t{0};
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (!wait_ready(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, options_.timeout)) {
        return make_error("Redis " + options_.address + ": no reply in time");
      }
      continue;
    }
    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return std::size_t{0};  // closed
    return make_error("Redis " + options_.address + ": TLS: " + openssl_error());
  }
}

Result<void> RedisConnection::send(const std::string& bytes) {
  for (std::size_t at = 0; at < bytes.size();) {
    auto n = write_some(bytes.data() + at, bytes.size() - at);
    if (!n) return n.error();
    at += *n;
  }
  return {};
}

Result<RedisReply> RedisConnection::receive() {
  auto* reader = static_cast<redisReader*>(reader_);
  char buf[16 * 1024];
  for (;;) {
    void* reply = nullptr;
    if (redisReaderGetReply(reader, &reply) != REDIS_OK) {
      return make_error("Redis " + options_.address + ": malformed reply: " + reader->errstr);
    }
    if (reply != nullptr) {
      RedisReply out = convert(static_cast<redisReply*>(reply));
      freeReplyObject(reply);
      return out;
    }
    auto n = read_some(buf, sizeof buf);
    if (!n) return n.error();
    if (*n == 0) return make_error("Redis " + options_.address + ": the connection was closed");
    if (redisReaderFeed(reader, buf, *n) != REDIS_OK) {
      return make_error("Redis " + options_.address + ": malformed reply: " + reader->errstr);
    }
  }
}

}  // namespace ringmta::cluster
