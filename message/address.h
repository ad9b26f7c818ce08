// Envelope address validation (RFC 5321 §4.1.2 Mailbox, limits of §4.5.3.1).
// Pure: no DNS, no I/O. It may not accept anything that could break an SMTP command line.
#pragma once

#include <string>
#include <string_view>

#include "util/result.h"

namespace ringmta::message {

struct Address {
  std::string local;   // as given (case preserved); may be UTF-8
  std::string domain;  // lower-cased, A-labels for an internationalized one; a literal: bracketed
  std::string str() const { return local + "@" + domain; }
  // A UTF-8 local part: the address can only go to a server that offers SMTPUTF8 (RFC 6531).
  bool needs_smtputf8() const;
};

// Accepts dot-atom or quoted-string local parts (≤ 64 bytes, UTF-8 allowed), domains of LDH labels
// or U-labels (written as A-labels; ≤ 255) or address literals; total ≤ 254 bytes. Refuses CR, LF,
// NUL, controls, spaces outside quotes, '<' '>', malformed UTF-8, and empty parts. Surrounding
// whitespace and one pair of angle brackets are tolerated.
Result<Address> parse_address(std::string_view text);

}  // namespace ringmta::message
