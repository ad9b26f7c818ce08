// The 7-bit copy of a message for a server that does not offer 8BITMIME (RFC 6152 §3: such a
// server may not be sent 8-bit data): every leaf part whose body has a byte >= 0x80 and is not
// already quoted-printable or base64 is written quoted-printable, its Content-Transfer-Encoding
// field replaced (or added at the end of its header block). Parts that are 7-bit, encoded, or not
// text-like stay byte for byte. 8-bit bytes in a header field cannot be converted this way: they
// stay, and the result says so (ringmta writes its own merged header values as RFC 2047
// encoded-words; only a template's own raw 8-bit header text can be left).
// It may not: know about merge fields or SMTP sessions.
#pragma once

#include <cstddef>
#include <string>

namespace ringmta::message {

struct SevenBitResult {
  std::size_t parts_converted = 0;
  bool eight_bit_header = false;  // a header field still has 8-bit bytes
};

// copy[start...] is a wire-ready message (CRLF line ends, dot-stuffed, ending with CRLF); it is
// rewritten in place, still wire-ready.
SevenBitResult downgrade_to_seven_bit(std::string& copy, std::size_t start = 0);

}  // namespace ringmta::message
