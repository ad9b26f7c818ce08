// Listening sockets for the servers on the ring (the sink, the submission listener): the
// "HOST:PORT" / "[IPv6]:PORT" text parsed, a socket bound with SO_REUSEADDR and SO_REUSEPORT (one
// per loop thread), and the port it got. Start-up only.
// It may not: accept, or touch the ring.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "util/result.h"

namespace ringmta::engine {

struct ListenAddress {
  sockaddr_storage storage{};
  socklen_t len = 0;
  std::string host;  // brackets removed
  uint16_t port = 0;
};

// Parses "IPv4:port" or "[IPv6]:port" ("localhost", "*" and an empty host are accepted too).
Result<ListenAddress> parse_listen(const std::string& text);
void set_port(ListenAddress& a, uint16_t port);
// A listening socket with SO_REUSEADDR and SO_REUSEPORT; returns the fd. `text` names it in errors.
Result<int> open_listener(const ListenAddress& a, const std::string& text);
// SO_REUSEPORT would let a second server on the same fixed port silently share its traffic, so a
// fixed port is first probed with a plain socket: it fails if anyone is listening there.
Result<void> probe_port_free(const ListenAddress& a, const std::string& text);
Result<uint16_t> bound_port(int fd);

}  // namespace ringmta::engine
