// MIME structure of a message template (RFC 2045, RFC 2046 §5.1): where each leaf part's body
// lies among the message's lines, with the Content-Type and Content-Transfer-Encoding that say how
// a merge field in it is written (decoded and encoded again in a quoted-printable or base64 text
// part, HTML-escaped in text/html). A multipart's delimiter lines are found by its boundary;
// preamble and epilogue are not parts. Nesting deeper than kMaxDepth, or a multipart without a
// boundary, is one opaque leaf (merged as plain lines, as before MIME was understood).
// It may not decode bodies (message/transfer_encoding.h) or know about merge fields.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "message/transfer_encoding.h"

namespace ringmta::message {

constexpr std::size_t kNoLine = static_cast<std::size_t>(-1);

// What a Content-Type value says; "text/plain" when there is none (RFC 2045 §5.2).
struct ContentType {
  std::string type = "text";  // lower case
  std::string subtype = "plain";
  std::string boundary;  // multipart: the boundary parameter, unquoted
  std::string charset;   // lower case; "" when not given
};
ContentType parse_content_type(std::string_view value);

struct MimeLeaf {
  // The leaf's header block starts at header_begin (the message's own at 0); its
  // Content-Transfer-Encoding field, if it has one, at encoding_line (continuation lines follow).
  std::size_t header_begin = 0;
  std::size_t encoding_line = kNoLine;
  // The leaf's body: lines [body_begin, body_end) of the message (the header block before it and
  // the CRLF before the next delimiter line are not part of it).
  std::size_t body_begin = 0;
  std::size_t body_end = 0;
  ContentType type;
  TransferEncoding encoding = TransferEncoding::kSevenBit;
  bool attachment = false;  // Content-Disposition: attachment (a file, not the text to merge)
};

constexpr int kMaxDepth = 16;

// A leaf's body as it stands in the message: its lines joined by CRLF (no line end after the last).
std::string leaf_body(std::span<const std::string_view> lines, const MimeLeaf& leaf);

// The leaf parts of a message given as its lines (without line ends), in order. The message's
// own header block starts at line 0.
std::vector<MimeLeaf> find_leaf_parts(std::span<const std::string_view> lines);

}  // namespace ringmta::message
