// UTF-8 well-formedness (RFC 3629): what an internationalized address (RFC 6531) or header text
// must be before it goes on the wire. Pure; it may not decode or normalise.
#pragma once

#include <string_view>

namespace ringmta {

// Every sequence is the shortest form of a scalar value (no overlongs, no surrogates, at most
// U+10FFFF); ASCII is valid UTF-8.
bool is_valid_utf8(std::string_view text);

}  // namespace ringmta
