// split_host_port: "host", "host:port", "[IPv6]", "[IPv6]:port" or a bare IPv6 address ("::1": more
// than one colon, so no port) split into its host and port text. It may not resolve or check the
// host, read the port's digits, or word an error: each caller names what the text was for.
#pragma once

#include <algorithm>
#include <optional>
#include <string_view>

namespace ringmta {

struct HostPort {
  enum class Syntax { kOk, kMissingBracket, kTextAfterBracket };
  Syntax syntax = Syntax::kOk;
  std::string_view host;                 // brackets removed
  std::optional<std::string_view> port;  // what follows the separating ':' (may be empty)
};

constexpr HostPort split_host_port(std::string_view spec) {
  HostPort out;
  out.host = spec;
  if (!spec.empty() && spec.front() == '[') {
    const std::size_t close = spec.find(']');
    if (close == std::string_view::npos) {
      out.syntax = HostPort::Syntax::kMissingBracket;
      return out;
    }
    out.host = spec.substr(1, close - 1);
    const std::string_view rest = spec.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') out.syntax = HostPort::Syntax::kTextAfterBracket;
      out.port = rest.substr(1);
    }
  } else if (std::count(spec.begin(), spec.end(), ':') == 1) {
    const std::size_t colon = spec.find(':');
    out.host = spec.substr(0, colon);
    out.port = spec.substr(colon + 1);
  }
  return out;
}

}  // namespace ringmta
