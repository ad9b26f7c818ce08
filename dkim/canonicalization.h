// DKIM canonicalization (RFC 6376 §3.4): how a message's header fields and body are reduced before
// they are hashed, "simple" (as they are) or "relaxed" (white space and case folded), and the split
// of a message into its header fields and body that signing starts from.
// Pure functions on RFC 5322 text with CRLF line ends, not dot-stuffed. It may not: sign, choose
// which fields to sign, or allocate except into the caller's output.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ringmta::dkim {

enum class Canon { kSimple, kRelaxed };

// One header field: name as written (no trailing white space) and the whole field's text, from
// the name through the CRLF ending its last (folded) line.
struct HeaderField {
  std::string_view name;
  std::string_view text;
};

struct SplitMessage {
  std::vector<HeaderField> fields;  // in message order
  std::string_view body;            // after the empty line; "" when the message has none
};

// Splits at the first empty line. A line that is neither a field nor a continuation (no colon)
// ends the header section there, as it would for a verifier reading the same bytes.
SplitMessage split_message(std::string_view message);

// Appends the canonical form of field, ending with CRLF.
void append_canonical_field(std::string& out, const HeaderField& field, Canon canon);
// Relaxed form of a name and value given apart ("dkim-signature:v=1; ...", no CRLF): the header
// being signed is canonicalized before it exists as a field.
void append_relaxed_field(std::string& out, std::string_view name, std::string_view value);
// Appends the canonical form of body.
void append_canonical_body(std::string& out, std::string_view body, Canon canon);

}  // namespace ringmta::dkim
