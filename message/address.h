// Envelope address validation (RFC 5321 §4.1.2 Mailbox, limits of §4.5.3.1).
// Pure: no DNS, no I/O. It may not accept anything that could break an SMTP command line.
#pragma once

#include <string>
#include <string_view>

#include "util/result.h"

namespace ringmta::message {

struct Address {
  std::string local;   // as given (case preserved)
  std::string domain;  // lower-cased; an address literal keeps its brackets
  std::string str() const { return local + "@" + domain; }
};

// Accepts dot-atom or quoted-string local parts (≤ 64), domains of LDH labels (≤ 255) or address
// literals; total ≤ 254. Refuses CR, LF, NUL, spaces outside quotes, '<' '>', and empty parts.
// Surrounding whitespace and one pair of angle brackets are tolerated.
Result<Address> parse_address(std::string_view text);

}  // namespace ringmta::message
