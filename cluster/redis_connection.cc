// RedisConnection implementation: a non-blocking socket waited on with poll(), hiredis's reader.
#include "cluster/redis_connection.h"

#include <hiredis/hiredis.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/errno_text.h"

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

bool wait_for(int fd, short events, Millis timeout) {
  const Millis deadline = monotonic_now() + timeout;
  for (;;) {
    const Millis left = deadline - monotonic_now();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
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
  if (!wait_for(c->fd_, POLLOUT, options.timeout)) {
    return make_error("cannot connect to Redis at " + options.address + ": timed out");
  }
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(c->fd_, SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) {
    return make_error("cannot connect to Redis at " + options.address + ": " + errno_text(error));
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

Result<void> RedisConnection::send(const std::string& bytes) {
  for (std::size_t at = 0; at < bytes.size();) {
    if (!wait_for(fd_, POLLOUT, options_.timeout)) {
      return make_error("Redis " + options_.address + ": timed out sending");
    }
    const ssize_t n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return make_error("Redis " + options_.address + ": " + errno_text(errno));
    at += static_cast<std::size_t>(n);
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
    if (!wait_for(fd_, POLLIN, options_.timeout)) {
      return make_error("Redis " + options_.address + ": no reply in time");
    }
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n == 0) return make_error("Redis " + options_.address + ": the connection was closed");
    if (n < 0) return make_error("Redis " + options_.address + ": " + errno_text(errno));
    if (redisReaderFeed(reader, buf, static_cast<std::size_t>(n)) != REDIS_OK) {
      return make_error("Redis " + options_.address + ": malformed reply: " + reader->errstr);
    }
  }
}

}  // namespace ringmta::cluster
