// MessageTemplate: an RFC 5322 message with {{field}} merge fields (and {{field|default}}: the
// default where a recipient's value is empty), pre-split so that rendering a personalised,
// wire-ready copy per recipient is a few appends.
//
// parse() normalises line ends to CRLF, dot-stuffs the literal text, drops any Message-ID and Date
// headers (every copy gets its own), and records which fields appear in headers. render() writes
// "Date:" and "Message-ID:" first, then the message with values substituted; values in headers
// never contain CR, LF or NUL (check_values refuses them), so a merge value can never add a header
// or an SMTP command, and are written as their place in the field needs (message/header_value.h:
// RFC 2047 encoded-words for non-ASCII display names and subjects, quoted display names).
// Merge fields understand MIME (message/mime_part.h): in a quoted-printable or base64 text part
// they are found in the decoded text, and the merged text is encoded again; in a text/html part a
// value is HTML-escaped unless written "{{{name}}}". It may not: read files, choose recipients,
// or know about SMTP sessions.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "message/header_value.h"
#include "message/transfer_encoding.h"
#include "util/result.h"

namespace ringmta::message {

class MessageTemplate {
 public:
  // Errors name the line: "line 3: header without a colon", "line 40: 1200 bytes (limit 998)".
  // merge_fields false: "{{...}}" is plain text (a DSN quoting a server's reply). keep_identity:
  // the message's own Date and Message-ID are kept (a message submitted whole), and render()
  // writes none.
  static Result<MessageTemplate> parse(std::string_view raw, bool merge_fields = true,
                                       bool keep_identity = false);

  // Merge field names in order of first appearance ("email" included if used).
  const std::vector<std::string>& fields() const { return fields_; }
  // The envelope address of the From: header (first mailbox), if parseable.
  std::optional<std::string> from_address() const { return from_address_; }
  // Whether this recipient's copy has 8-bit bytes (the template's own text, or a value merged
  // into a part that is not quoted-printable or base64): it goes with BODY=8BITMIME.
  bool eight_bit(std::span<const std::string> values) const;
  // What the message says that a sender should know before a send: text that looks like a merge
  // field and is not one ("line 12: \"{{ first name }}\" is not a merge field ..."). Each names
  // the line.
  const std::vector<std::string>& warnings() const { return warnings_; }
  // A merge field in the body: without one, every copy has the same body.
  bool body_has_fields() const { return body_has_fields_; }

  // values[i] belongs to fields()[i]. Refuses: NUL anywhere; CR or LF in a value used in a header;
  // a line longer than 998 bytes once merged. The error names the field.
  Result<void> check_values(std::span<const std::string> values) const;

  // Appends the wire-ready copy (CRLF, dot-stuffed, ends with CRLF, no final ".") to out.
  // Values must have passed check_values. CR/LF inside body values become CRLF and are stuffed.
  // extra_fields: whole header fields (each ending with CRLF, none starting with '.') written
  // after Date: and Message-ID:.
  void render(std::string& out, std::span<const std::string> values, std::string_view message_id,
              std::string_view date, std::string_view extra_fields = {}) const;
  // Whether the message has a header field of this name (case-insensitive).
  bool has_field(std::string_view name) const;

 private:
  // parse() once the header's own 8-bit text is 7-bit.
  static Result<MessageTemplate> parse_text(std::string_view raw, bool merge_fields,
                                            bool keep_identity);
  // After a segment's literal, before its field: where an encoded part's merged text begins
  // (what follows, up to kEncodeEnd, is its decoded text) or ends (encoded and written).
  enum class Mark : uint8_t { kNone, kEncodeBegin, kEncodeEnd };
  struct Segment {
    std::string literal;  // wire-ready text before the field (decoded text inside a part)
    int field = -1;       // index into fields_, or -1 for none (the final literal, a mark)
    bool in_header = false;
    bool html = false;  // in a text/html part, not raw: the value is HTML-escaped
    Mark mark = Mark::kNone;
    TransferEncoding encoding = TransferEncoding::kSevenBit;  // kEncodeEnd: how it is encoded
    HeaderContext context = HeaderContext::kRaw;              // in_header: how the value is written
    // kUnstructured: the bytes of the word around the value, at the end of literal and at the
    // start of the next segment's literal, written with it (encoded with it when it is encoded).
    uint32_t prefix = 0, suffix = 0;
    std::string fallback;  // "{{name|fallback}}": written when the value is empty
  };
  // A kUnstructured value with the text it touches on either side (Segment::prefix/suffix).
  std::string touching_word(std::size_t segment, std::string_view value) const;
  std::vector<Segment> segments_;
  std::vector<std::string> fields_;
  std::vector<bool> field_in_header_;
  std::optional<std::string> from_address_;
  bool eight_bit_ = false;
  std::vector<bool> field_in_plain_body_;  // used where a value's bytes go out as they are
  std::vector<std::string> warnings_;
  bool body_has_fields_ = false;
  bool keeps_identity_ = false;
  std::vector<std::string> field_names_;  // of the header, lower case (has_field)
  // For the merged line-length check: per template line with fields, literal length and fields.
  struct LineCheck {
    std::size_t literal_length = 0;  // wire bytes of the line before its first field
    std::size_t first_segment = 0;   // segments_ index of the line's first field
    std::size_t tail_length = 0;     // wire bytes after the last field (segment first + n)
    std::vector<int> fields;         // the line's fields in order
  };
  std::vector<LineCheck> line_checks_;
};

// RFC 5322 date for now, e.g. "Sat, 28 Nov 2026 10:16:07 +0000".
std::string rfc5322_date(int64_t unix_seconds);

}  // namespace ringmta::message
