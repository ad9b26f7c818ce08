// Content-Transfer-Encoding (RFC 2045 §6): quoted-printable and base64 bodies decoded to their text
// and that text encoded again, so that merge fields are found and filled in in what the reader
// sees, not in the encoded lines (where a soft line break can cut "{{city}}" in two).
// Encoded output is wire-ready: CRLF line ends, lines of at most 76 characters, and no line that
// starts with '.' (quoted-printable writes it as "=2E"; base64 has no '.'), so it needs no
// dot-stuffing. Pure functions; they may not parse MIME structure (message/mime_part.h does).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringmta::message {

enum class TransferEncoding : uint8_t {
  kSevenBit,  // also what an absent header means
  kEightBit,
  kBinary,
  kQuotedPrintable,
  kBase64,
  kUnknown,  // any other token (x-uuencode, ...): the part is left as it is
};

// The value of a Content-Transfer-Encoding field (case-insensitive, blanks and comments ignored).
TransferEncoding parse_transfer_encoding(std::string_view value);

// The decoded bytes of a quoted-printable body whose lines are joined by CRLF: soft line breaks
// ("=" at a line end) removed, "=XX" turned into the byte, trailing blanks of a line dropped
// (RFC 2045 §6.7 rule 3). nullopt for an '=' not followed by two hex digits or a line end: a body
// that is not quoted-printable is not rewritten.
std::optional<std::string> quoted_printable_decode(std::string_view encoded);

// The decoded bytes of a base64 body (white space and line ends ignored); nullopt if not base64.
std::optional<std::string> base64_body_decode(std::string_view encoded);

// Appends text in its canonical form (RFC 2045 §2.10): every line end (LF, CR or CRLF) a CRLF.
void append_canonical_text(std::string& out, std::string_view text);

// Both encoders take a part's whole content (without the line end before the next delimiter line
// or the message's end) and write it as lines that each end with CRLF, the last one included.

// Appends text as quoted-printable: CRLF in text is a line break, a lone CR or LF is encoded;
// '=', bytes outside printable ASCII, a blank before a line end and a '.' that starts a line are
// "=XX"; soft line breaks keep lines at most 76 characters, never inside an "=XX".
void append_quoted_printable(std::string& out, std::string_view text);

// Appends bytes as base64 in lines of 76 characters (one empty line for no bytes).
void append_base64_lines(std::string& out, std::string_view bytes);

}  // namespace ringmta::message
