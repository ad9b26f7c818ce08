// http_call (see client.h): a socket, one request, the answer read until the server closes.
#include "http/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "engine/io/tcp_stream.h"
#include "util/errno_text.h"

namespace ringmta::http {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Waits until fd is ready for `events` or the deadline passes.
bool wait_for(int fd, short events, Millis deadline) {
  for (;;) {
    const Millis left = deadline - monotonic_now();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

}  // namespace

Result<CallAnswer> http_call(const std::string& base, std::string_view method,
                             std::string_view path, std::string_view bearer, std::string_view body,
                             Millis timeout) {
  std::string hostport = base;
  if (hostport.starts_with("http://")) hostport.erase(0, 7);
  if (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
  auto ep = engine::resolve_endpoint(hostport, 80);
  if (!ep) return ep.error();
  const Millis deadline = monotonic_now() + timeout;
  Fd s{::socket(ep->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) return make_error("socket: " + errno_text(errno));
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&ep->addr), ep->len) < 0) {
    return make_error("cannot connect to " + base + ": " + errno_text(errno));
  }
  std::string request = std::string(method) + " " + std::string(path) +
                        " HTTP/1.1\r\nHost: " + hostport + "\r\nConnection: close\r\n";
  if (!bearer.empty()) request += "Authorization: Bearer " + std::string(bearer) + "\r\n";
  if (!body.empty() || method == "POST") {
    request +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n";
  request.append(body);
  for (std::size_t sent = 0; sent < request.size();) {
    if (!wait_for(s.fd, POLLOUT, deadline)) return make_error(base + ": timed out sending");
    const ssize_t n = ::send(s.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(base + ": " + errno_text(errno));
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buf[64 * 1024];
  for (;;) {
    if (!wait_for(s.fd, POLLIN, deadline)) return make_error(base + ": no answer in time");
    const ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(base + ": " + errno_text(errno));
    if (n == 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
    if (answer.size() > kMaxAnswer) return make_error(base + ": the answer is too large");
  }
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nBODY" (Connection: close: the body is the rest).
  const std::size_t head_end = answer.find("\r\n\r\n");
  if (!answer.starts_with("HTTP/1.") || answer.size() < 12 || head_end == std::string::npos) {
    return make_error(base + ": not an HTTP answer");
  }
  CallAnswer out;
  out.status = std::atoi(answer.c_str() + 9);
  out.body = answer.substr(head_end + 4);
  return out;
}

}  // namespace ringmta::http
