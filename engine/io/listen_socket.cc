// Listening socket helpers (see listen_socket.h).
#include "engine/io/listen_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string_view>

#include "util/errno_text.h"

namespace ringmta::engine {

// Parses "IPv4:port" or "[IPv6]:port" ("localhost", "*" and an empty host are accepted too).
Result<ListenAddress> parse_listen(const std::string& text) {
  ListenAddress out;
  std::string_view s = text;
  std::string_view host;
  std::string_view port;
  bool v6 = false;
  if (!s.empty() && s.front() == '[') {
    std::size_t close = s.find("]:");
    if (close == std::string_view::npos) return make_error("bad listen address: " + text);
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
    v6 = true;
  } else {
    std::size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return make_error("bad listen address: " + text);
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    return make_error("bad listen port: " + text);
  }
  out.port = static_cast<uint16_t>(value);
  if (!v6 && (host.empty() || host == "*")) host = "0.0.0.0";
  if (!v6 && host == "localhost") host = "127.0.0.1";
  out.host = std::string(host);
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&out.storage);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(out.port);
    if (inet_pton(AF_INET6, out.host.c_str(), &a->sin6_addr) != 1) {
      return make_error("bad IPv6 listen address: " + text);
    }
    out.len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&out.storage);
    a->sin_family = AF_INET;
    a->sin_port = htons(out.port);
    if (inet_pton(AF_INET, out.host.c_str(), &a->sin_addr) != 1) {
      return make_error("bad IPv4 listen address: " + text);
    }
    out.len = sizeof(sockaddr_in);
  }
  return out;
}

void set_port(ListenAddress& a, uint16_t port) {
  a.port = port;
  if (a.storage.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&a.storage)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(&a.storage)->sin_port = htons(port);
  }
}

// A listening socket with SO_REUSEADDR and SO_REUSEPORT; returns the fd.
Result<int> open_listener(const ListenAddress& a, const std::string& text) {
  int fd = ::socket(a.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error("socket: " + errno_text(errno));
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    int err = errno;
    ::close(fd);
    return make_error("setsockopt: " + errno_text(err));
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.len) < 0) {
    int err = errno;
    ::close(fd);
    return make_error("bind " + text + ": " + errno_text(err));
  }
  if (::listen(fd, SOMAXCONN) < 0) {
    int err = errno;
    ::close(fd);
    return make_error("listen " + text + ": " + errno_text(err));
  }
  return fd;
}

Result<void> probe_port_free(const ListenAddress& a, const std::string& text) {
  if (a.port == 0) return {};
  int fd = ::socket(a.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error("socket: " + errno_text(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.len);
  int err = errno;
  ::close(fd);
  if (rc < 0) return make_error("bind " + text + ": " + errno_text(err));
  return {};
}

Result<uint16_t> bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    return make_error("getsockname: " + errno_text(errno));
  }
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace ringmta::engine
