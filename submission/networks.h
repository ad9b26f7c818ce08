// NetworkList: the --relay-networks CIDR blocks ("127.0.0.0/8,::1/128"): clients connecting from
// one may submit without authenticating. An IPv4 client seen as an IPv4-mapped IPv6 address
// (::ffff:a.b.c.d) matches IPv4 blocks.
// It may not: resolve names, or read anything but the socket address it is given.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace ringmta::submission {

class NetworkList {
 public:
  // "CIDR[,CIDR...]"; an address without /N is one host. Errors name the block.
  static Result<NetworkList> parse(std::string_view text);
  bool contains(const sockaddr_storage& address) const;
  bool empty() const { return blocks_.empty(); }
  std::string str() const;  // as parsed, normalised: "127.0.0.0/8, ::1/128"

 private:
  struct Block {
    bool v6 = false;
    std::array<uint8_t, 16> bytes{};  // IPv4: the first 4
    int prefix = 0;
  };
  static bool matches(const Block& block, const uint8_t* bytes, bool v6);
  std::vector<Block> blocks_;
};

// "1.2.3.4" or "2001:db8::1" for a socket address (no port).
std::string address_text(const sockaddr_storage& address);

}  // namespace ringmta::submission
