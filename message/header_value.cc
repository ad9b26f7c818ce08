// Header values (see header_value.h).
#include "message/header_value.h"

#include <algorithm>
#include <iterator>

#include "message/address.h"
#include "util/base64.h"
#include "util/strings.h"

namespace ringmta::message {
namespace {

// RFC 5322 §3.2.3 specials, and the quote and backslash that a quoted-string escapes.
bool needs_quoting(std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '(':
      case ')':
      case '<':
      case '>':
      case '[':
      case ']':
      case ':':
      case ';':
      case '@':
      case '\\':
      case ',':
      case '.':
      case '"':
        return true;
      default:
        break;
    }
  }
  return false;
}

void append_escaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
}

// Encoded-words of at most 45 bytes of UTF-8 each (60 base64 characters, 72 with the delimiters:
// under RFC 2047's 75), cut before a continuation byte, folded onto lines of their own.
void append_encoded_words(std::string& out, std::string_view v) {
  constexpr std::size_t kChunk = 45;
  std::size_t pos = 0;
  while (pos < v.size()) {
    std::size_t end = std::min(v.size(), pos + kChunk);
    while (end < v.size() && end > pos + 1 && (static_cast<unsigned char>(v[end]) & 0xC0) == 0x80) {
      --end;  // never inside a UTF-8 character
    }
    if (pos > 0) out.append("\r\n ");
    out.append("=?UTF-8?B?").append(base64_encode(v.substr(pos, end - pos))).append("?=");
    pos = end;
  }
}

}  // namespace

namespace {

// An address value: with A-labels for its domain when that is all that makes it 8-bit.
std::string address_as_written(std::string_view value) {
  if (!has_8bit(value)) return std::string(value);
  auto parsed = parse_address(value);
  if (!parsed || parsed->needs_smtputf8()) return std::string(value);
  return parsed->str();
}

}  // namespace

void append_header_value(std::string& out, std::string_view value, HeaderContext context) {
  if (value.find_first_of("\r\n") != std::string_view::npos) {
    // Checked values never hold a line break; this guarantees that no value can ever add a
    // header field (the only breaks written are the folds between encoded-words).
    std::string flat(value);
    for (char& c : flat) {
      if (c == '\r' || c == '\n') c = ' ';
    }
    return append_header_value(out, flat, context);
  }
  switch (context) {
    case HeaderContext::kRaw:
      out.append(value);
      return;
    case HeaderContext::kAddress:
      out.append(address_as_written(value));
      return;
    case HeaderContext::kEncodedWord:
      if (!value.empty()) append_encoded_words(out, value);
      return;
    case HeaderContext::kUnstructured:
      if (!has_8bit(value)) {
        out.append(value);
      } else {
        append_encoded_words(out, value);
      }
      return;
    case HeaderContext::kPhrase:
      if (has_8bit(value)) {
        append_encoded_words(out, value);
      } else if (needs_quoting(value)) {
        out.push_back('"');
        append_escaped(out, value);
        out.push_back('"');
      } else {
        out.append(value);
      }
      return;
    case HeaderContext::kQuoted:
      append_escaped(out, value);
      return;
  }
}

HeaderValueWidth header_value_width(std::string_view value, HeaderContext context) {
  if (context == HeaderContext::kAddress) return {address_as_written(value).size(), false, 0};
  const bool encoded =
      context == HeaderContext::kEncodedWord ||
      ((context == HeaderContext::kUnstructured || context == HeaderContext::kPhrase) &&
       has_8bit(value));
  if (encoded) {
    constexpr std::size_t kWord = 72;  // "=?UTF-8?B?" + 60 + "?="
    return {kWord, value.size() > 45, kWord};
  }
  std::size_t width = value.size();
  if (context == HeaderContext::kQuoted ||
      (context == HeaderContext::kPhrase && needs_quoting(value))) {
    for (char c : value) width += (c == '"' || c == '\\') ? 1 : 0;
    if (context == HeaderContext::kPhrase) width += 2;
  }
  return {width, false, 0};
}

void HeaderScanner::begin_line(std::string_view line) {
  if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) return;  // continuation: same field
  in_quote_ = escaped_ = false;
  angle_ = comment_ = 0;
  const std::string name = lower(trim(line.substr(0, line.find(':')), " \t"));
  if (name == "from" || name == "to" || name == "cc" || name == "bcc" || name == "reply-to" ||
      name == "sender") {
    kind_ = Kind::kAddress;
  } else if (name == "subject" || name == "comments" || name == "keywords" ||
             name.starts_with("x-")) {
    kind_ = Kind::kUnstructured;
  } else {
    kind_ = Kind::kOther;
  }
}

void HeaderScanner::literal(std::string_view text) {
  if (kind_ != Kind::kAddress) return;
  for (char c : text) {
    if (escaped_) {
      escaped_ = false;
    } else if (c == '\\' && (in_quote_ || comment_ > 0)) {
      escaped_ = true;
    } else if (in_quote_) {
      if (c == '"') in_quote_ = false;
    } else if (comment_ > 0) {
      if (c == '(') ++comment_;
      if (c == ')') --comment_;
    } else if (c == '"') {
      in_quote_ = true;
    } else if (c == '(') {
      ++comment_;
    } else if (c == '<') {
      ++angle_;
    } else if (c == '>' && angle_ > 0) {
      --angle_;
    }
  }
}

HeaderContext HeaderScanner::field(std::string_view rest) const {
  switch (kind_) {
    case Kind::kUnstructured:
      return HeaderContext::kUnstructured;
    case Kind::kOther:
      return HeaderContext::kRaw;
    case Kind::kAddress:
      break;
  }
  if (in_quote_) return HeaderContext::kQuoted;
  if (comment_ > 0) return HeaderContext::kRaw;
  if (angle_ > 0) return HeaderContext::kAddress;
  // A display name is followed, before the next address, by the '<' of its angle-addr.
  const std::size_t lt = rest.find('<');
  const std::size_t comma = rest.find(',');
  if (lt != std::string_view::npos && (comma == std::string_view::npos || lt < comma)) {
    return HeaderContext::kPhrase;
  }
  return HeaderContext::kAddress;  // a bare address
}

namespace {

// An unstructured value of the template, merge fields ("{{...}}") and all: in each stretch of
// literal text between fields, the words from its first 8-bit word to its last become one run of
// encoded-words (the blanks between them inside it: blanks between two encoded-words are not
// shown); the fields and the rest stay as written. False when an 8-bit word touches a field (an
// encoded-word must stand between blanks, RFC 2047 §5).
bool append_seven_bit_unstructured(std::string& out, std::string_view value) {
  std::size_t pos = 0;
  while (pos <= value.size()) {
    std::size_t open = value.find("{{", pos);
    if (open == std::string_view::npos) open = value.size();
    const std::string_view text = value.substr(pos, open - pos);
    std::size_t first = std::string_view::npos, last = 0;  // the 8-bit words' stretch
    for (std::size_t i = 0; i < text.size();) {
      while (i < text.size() && is_blank(text[i])) ++i;
      const std::size_t start = i;
      while (i < text.size() && !is_blank(text[i])) ++i;
      if (start < i && has_8bit(text.substr(start, i - start))) {
        if (first == std::string_view::npos) first = start;
        last = i;
      }
    }
    if (first == std::string_view::npos) {
      out.append(text);
    } else {
      if ((first == 0 && pos > 0) || (last == text.size() && open < value.size())) return false;
      out.append(text.substr(0, first));
      append_encoded_words(out, text.substr(first, last - first));
      out.append(text.substr(last));
    }
    if (open >= value.size()) break;
    const std::size_t close = value.find("}}", open + 2);
    if (close == std::string_view::npos) return false;
    std::size_t end = close + 2;
    while (end < value.size() && value[end] == '}') ++end;  // "{{{raw}}}"
    out.append(value.substr(open, end - open));
    pos = end;
  }
  return true;
}

}  // namespace

std::optional<std::string> seven_bit_header_field(std::string_view field) {
  const std::size_t colon = field.find(':');
  if (colon == std::string_view::npos || !has_8bit(field)) return std::nullopt;
  const std::string_view name = field.substr(0, colon);
  std::string_view value = field.substr(colon + 1);
  while (!value.empty() && is_blank(value.front())) value.remove_prefix(1);
  while (!value.empty() && is_blank(value.back())) value.remove_suffix(1);
  std::string out(name);
  out += ": ";
  if (iequals(name, "Subject") || iequals(name, "Comments")) {
    if (!append_seven_bit_unstructured(out, value)) return std::nullopt;
    return out;
  }
  static constexpr std::string_view kMailboxFields[] = {"From", "To", "Cc", "Reply-To", "Sender"};
  if (std::none_of(std::begin(kMailboxFields), std::end(kMailboxFields),
                   [name](std::string_view f) { return iequals(name, f); })) {
    return std::nullopt;
  }
  if (value.find("{{") != std::string_view::npos) return std::nullopt;
  // One mailbox: "phrase <addr-spec>" with an ASCII address, and no second '<' or a comma
  // outside the quotes (a list is left as written).
  const std::size_t open = value.rfind('<');
  if (open == std::string_view::npos || value.back() != '>') return std::nullopt;
  const std::string_view address = value.substr(open);
  if (has_8bit(address) || value.find('<') != open) return std::nullopt;
  std::string_view phrase = value.substr(0, open);
  while (!phrase.empty() && is_blank(phrase.back())) phrase.remove_suffix(1);
  std::string name_text;
  if (phrase.size() >= 2 && phrase.front() == '"' && phrase.back() == '"') {
    for (std::size_t i = 1; i + 1 < phrase.size(); ++i) {
      if (phrase[i] == '\\' && i + 2 < phrase.size()) ++i;
      name_text.push_back(phrase[i]);
    }
  } else {
    if (phrase.find_first_of(",\"()") != std::string_view::npos) return std::nullopt;
    name_text.assign(phrase);
  }
  if (!has_8bit(name_text)) return std::nullopt;
  append_header_value(out, name_text, HeaderContext::kPhrase);
  out += ' ';
  out.append(address);
  return out;
}

}  // namespace ringmta::message
