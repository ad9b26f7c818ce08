// Base64: RFC 4648 §4, the standard alphabet with '=' padding, as SMTP AUTH and DKIM use it, and
// §5, the URL- and file-name-safe alphabet ('-', '_') without padding, for tokens in URLs.
// Pure functions; they may not wrap lines or accept white space (callers strip folding first).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringmta {

enum class Base64 { kStandard, kUrl };

std::string base64_encode(std::string_view data, Base64 alphabet = Base64::kStandard);
// nullopt if not base64 of that alphabet (padding optional for kStandard, refused for kUrl).
std::optional<std::string> base64_decode(std::string_view text,
                                         Base64 alphabet = Base64::kStandard);

}  // namespace ringmta
