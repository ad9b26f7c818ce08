// NetworkList implementation: inet_pton, and prefix comparison byte by byte.
#include "submission/networks.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

#include "util/strings.h"

namespace ringmta::submission {

Result<NetworkList> NetworkList::parse(std::string_view text) {
  NetworkList list;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    const std::size_t slash = item.find('/');
    const std::string host(item.substr(0, slash));
    Block block;
    if (inet_pton(AF_INET, host.c_str(), block.bytes.data()) == 1) {
      block.prefix = 32;
    } else if (inet_pton(AF_INET6, host.c_str(), block.bytes.data()) == 1) {
      block.v6 = true;
      block.prefix = 128;
    } else {
      return make_error("relay network '" + std::string(item) + "': not an IP address");
    }
    if (slash != std::string_view::npos) {
      const std::string_view bits = item.substr(slash + 1);
      int n = -1;
      auto [ptr, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
      if (bits.empty() || ec != std::errc() || ptr != bits.data() + bits.size() || n < 0 ||
          n > block.prefix) {
        return make_error("relay network '" + std::string(item) + "': bad prefix length");
      }
      block.prefix = n;
    }
    list.blocks_.push_back(block);
  }
  return list;
}

bool NetworkList::matches(const Block& block, const uint8_t* bytes, bool v6) {
  if (block.v6 != v6) return false;
  const int whole = block.prefix / 8;
  if (std::memcmp(block.bytes.data(), bytes, static_cast<std::size_t>(whole)) != 0) return false;
  const int rest = block.prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (block.bytes[static_cast<std::size_t>(whole)] & mask) == (bytes[whole] & mask);
}

bool NetworkList::contains(const sockaddr_storage& address) const {
  const uint8_t* bytes = nullptr;
  bool v6 = false;
  if (address.ss_family == AF_INET) {
    bytes =
        reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&address)->sin_addr);
  } else if (address.ss_family == AF_INET6) {
    const auto* a6 = &reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr;
    bytes = reinterpret_cast<const uint8_t*>(a6);
    v6 = !IN6_IS_ADDR_V4MAPPED(a6);
    if (!v6) bytes += 12;
  } else {
    return false;
  }
  for (const Block& block : blocks_) {
    if (matches(block, bytes, v6)) return true;
  }
  return false;
}

std::string NetworkList::str() const {
  std::string out;
  for (const Block& block : blocks_) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(block.v6 ? AF_INET6 : AF_INET, block.bytes.data(), text, sizeof text);
    if (!out.empty()) out += ", ";
    out.append(text).append("/").append(std::to_string(block.prefix));
  }
  return out;
}

std::string address_text(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&address)->sin_addr, text,
              sizeof text);
  } else if (address.ss_family == AF_INET6) {
    const auto* a6 = &reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
      inet_ntop(AF_INET, reinterpret_cast<const uint8_t*>(a6) + 12, text, sizeof text);
    } else {
      inet_ntop(AF_INET6, a6, text, sizeof text);
    }
  }
  return text;
}

}  // namespace ringmta::submission
