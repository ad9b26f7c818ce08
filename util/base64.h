// Base64 (RFC 4648 §4, the standard alphabet with '=' padding), as SMTP AUTH and DKIM use it.
// Pure functions; they may not wrap lines or accept white space (callers strip folding first).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringmta {

std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);  // nullopt if not base64

}  // namespace ringmta
