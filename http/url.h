// URL pieces for the HTTP listeners and their clients: percent-encoding and -decoding of a path
// segment or query value, and one query parameter by name. Pure functions over the request target;
// no allocation beyond the result. It may not: route requests or know any endpoint.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringmta::http {

// "%40" -> "@", and in a query value '+' -> ' ' (form encoding) when plus_is_space. nullopt for a
// '%' not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = false);

// "a+b@x.org" -> "a%2Bb%40x.org": every byte but the unreserved ones (RFC 3986 §2.3) escaped,
// for a path segment or a query value.
std::string percent_encode(std::string_view text);

// The decoded value of the first NAME=VALUE in the target's query ("/x?a=1&b=2"); nullopt when
// absent or badly encoded; "" for "?NAME" or "?NAME=".
std::optional<std::string> query_param(std::string_view target, std::string_view name);

}  // namespace ringmta::http
