// Text the commands print for people and scripts: terminal-safe strings, JSON dumps
// that survive invalid UTF-8, RFC 3339 times. Formatting only.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "util/time.h"

namespace ringmta::cli {

// Control characters would garble a terminal: each becomes a space. JSON escapes them itself.
std::string printable(std::string_view text);
// Compact JSON; invalid UTF-8 from a remote server is replaced, not thrown on.
std::string dump(const nlohmann::json& j);
// A span of seconds for people: "45s", "4m 10s", "2h 5m", "3d 4h".
std::string duration(int64_t seconds);

}  // namespace ringmta::cli
