// Header values: how a merge value is written into a header field so that it stays what it is
// (RFC 5322 §3.2, RFC 2047). A value in a display name or an unstructured field (Subject) that is
// not ASCII becomes RFC 2047 encoded-words ("=?UTF-8?B?...?=", folded between words, never split
// inside a UTF-8 character); an ASCII display name with specials ("Müller, Jürgen" once encoded,
// `Tom "T" & Co`) becomes one quoted-string, so it stays one address; inside the template's own
// quotes, '"' and '\' are escaped; an address (inside <>, or a bare address) is written as it is.
// And the scanner that tells, while a template's header is parsed, which of these places a merge
// field is in. It may not: check values (MessageTemplate::check_values does), or encode bodies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringmta::message {

enum class HeaderContext : uint8_t {
  kRaw,  // a comment, or a field ringmta does not know the structure of
  // An address of From/To/Cc/Bcc/Reply-To/Sender (in angle brackets, or bare): written as it is,
  // but with an internationalized domain as its A-labels when the local part is ASCII, so that
  // it needs no SMTPUTF8 (message/address.h).
  kAddress,
  kUnstructured,  // Subject, Comments, and other unstructured fields
  kPhrase,        // a display name in From/To/Cc/Bcc/Reply-To/Sender
  kQuoted,        // inside a quoted-string of the template
  // An unstructured value between blanks next to an encoded-word of the template's own: written
  // as an encoded-word even when ASCII, since the blanks between two encoded-words are not shown
  // (RFC 2047 §6.2) and the template keeps the ones it wants inside its encoded-words.
  kEncodedWord,
};

// A CR or LF in value is written as a space: a value never breaks the field's line.
void append_header_value(std::string& out, std::string_view value, HeaderContext context);

// How wide append_header_value writes value, for the 998-byte line check: `first` bytes on the
// current line; when folded (encoded-words), the line then ends and the last one is `last` wide.
struct HeaderValueWidth {
  std::size_t first = 0;
  bool folded = false;
  std::size_t last = 0;
};
HeaderValueWidth header_value_width(std::string_view value, HeaderContext context);

// A header field of the template's own text (unfolded, "Name: value") with 8-bit bytes, rewritten
// 7-bit as RFC 2047 wants it, so that it needs no SMTPUTF8 (RFC 6532) and reads the same
// everywhere: a Subject or Comments value's 8-bit words as encoded-words (between its merge
// fields, which stay); the display name of a From, To, Cc, Reply-To or Sender that holds one
// mailbox and no merge field ("Bücherei Müller <news@x>", quoted or not).
// nullopt for any other field, or when there is nothing it knows how to rewrite (the field then
// goes as written).
std::optional<std::string> seven_bit_header_field(std::string_view field);

// Follows one header field of a template through its lines, literal text and merge fields.
class HeaderScanner {
 public:
  // A line of the header block: a field's first line ("To: ...") or a continuation line.
  void begin_line(std::string_view line);
  // The literal text between merge fields, in order.
  void literal(std::string_view text);
  // The context of a merge field here; rest: the line's text after the field (to look ahead for
  // the '<' that makes it a display name).
  HeaderContext field(std::string_view rest) const;

 private:
  enum class Kind : uint8_t { kAddress, kUnstructured, kOther };
  Kind kind_ = Kind::kOther;
  bool in_quote_ = false;
  bool escaped_ = false;
  int angle_ = 0;
  int comment_ = 0;
};

}  // namespace ringmta::message
