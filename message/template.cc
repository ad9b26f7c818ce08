// MessageTemplate: parses an RFC 5322 message with {{field}} merge fields once, into wire-ready
// literal segments (CRLF line ends, dot-stuffed), so that render() per recipient is a few appends.
// It may not: read files, choose recipients, or know about SMTP sessions. render() may not emit a
// bare CR or LF, an unstuffed '.' at a line start, or a CR/LF taken from a header value.
#include "message/template.h"

#include <cstdio>
#include <cstring>
#include <ctime>

#include "message/address.h"
#include "message/mime_part.h"
#include "util/strings.h"

namespace ringmta::message {
namespace {

constexpr std::size_t kMaxLine = 998;  // RFC 5321 §4.5.3.1.6, without the CRLF

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

Error line_error(std::size_t line, const std::string& what) {
  return make_error("line " + std::to_string(line) + ": " + what);
}

// Splits raw into lines at CRLF, LF or a bare CR. A final terminator does not start a new line.
std::vector<std::string_view> split_lines(std::string_view raw) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  std::size_t i = 0;
  while (i < raw.size()) {
    const char c = raw[i];
    if (c == '\r' || c == '\n') {
      lines.push_back(raw.substr(start, i - start));
      i += (c == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') ? 2 : 1;
      start = i;
    } else {
      ++i;
    }
  }
  if (start < raw.size()) lines.push_back(raw.substr(start));
  return lines;
}

// The first mailbox of a From: value: an angle-addr, else a bare addr-spec (comments removed).
std::optional<std::string> first_mailbox(std::string_view v) {
  std::string bare;
  int depth = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (quoted) {
      if (c == '\\') {
        if (i + 1 < v.size()) bare.push_back(v[i + 1]);
        bare.push_back(c);
        ++i;
        continue;
      }
      if (c == '"') quoted = false;
      bare.push_back(c);
      continue;
    }
    if (depth > 0) {
      if (c == '\\') {
        ++i;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        --depth;
      }
      continue;
    }
    if (c == '(') {
      ++depth;
    } else if (c == '"') {
      quoted = true;
      bare.push_back(c);
    } else if (c == '<') {
      const std::size_t end = v.find('>', i + 1);
      if (end == std::string_view::npos) return std::nullopt;
      auto a = parse_address(v.substr(i + 1, end - i - 1));
      if (!a) return std::nullopt;
      return a->str();
    } else if (c == ',') {
      break;
    } else {
      bare.push_back(c);
    }
  }
  auto a = parse_address(bare);
  if (!a) return std::nullopt;
  return a->str();
}

// Appends a body value with CR, LF and CRLF made CRLF and '.' stuffed at line starts.
void append_body_value(std::string& out, std::string_view v, bool& at_line_start) {
  if (!(at_line_start && v[0] == '.') && std::memchr(v.data(), '\n', v.size()) == nullptr &&
      std::memchr(v.data(), '\r', v.size()) == nullptr) {
    out.append(v);  // the common case: one plain run
    at_line_start = false;
    return;
  }
  std::size_t start = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (c == '\r' || c == '\n') {
      out.append(v.data() + start, i - start);
      out.append("\r\n");
      if (c == '\r' && i + 1 < v.size() && v[i + 1] == '\n') ++i;
      start = i + 1;
      at_line_start = true;
    } else if (at_line_start) {
      if (c == '.') {
        out.append(v.data() + start, i - start);
        out.push_back('.');
        start = i;
      }
      at_line_start = false;
    }
  }
  out.append(v.data() + start, v.size() - start);
}

// A merge field "{{ name }}" or "{{ name | default }}" in a line: where it opens, its name, the
// text written when a recipient's value is empty, and where it ends. "{{{ name }}}" is the raw
// form: in a text/html part its value is written as it is, not HTML-escaped.
struct FieldRef {
  std::size_t open = 0;  // the first '{'
  std::string_view name;
  std::string_view fallback;  // trimmed; "" without a '|'
  std::size_t end = 0;        // just after the closing "}}" ("}}}")
  bool raw = false;
};

// The field "{{...}}" (braces: 2) or "{{{...}}}" (3) that opens at `open`, if it is one.
std::optional<FieldRef> field_at(std::string_view line, std::size_t open, std::size_t braces) {
  const std::string_view close_with = braces == 3 ? "}}}" : "}}";
  std::size_t j = open + braces;
  while (j < line.size() && is_blank(line[j])) ++j;
  const std::size_t name_start = j;
  while (j < line.size() && is_name_char(line[j])) ++j;
  const std::size_t name_end = j;
  if (name_end == name_start) return std::nullopt;
  const std::string_view name = line.substr(name_start, name_end - name_start);
  while (j < line.size() && is_blank(line[j])) ++j;
  if (line.substr(j, braces) == close_with)
    return FieldRef{open, name, {}, j + braces, braces == 3};
  if (j < line.size() && line[j] == '|') {
    const std::size_t close = line.find(close_with, j + 1);
    if (close != std::string_view::npos) {
      return FieldRef{open, name, trim(line.substr(j + 1, close - j - 1)), close + braces,
                      braces == 3};
    }
  }
  return std::nullopt;
}

// The first merge field at or after `from`; a "{{" without a name and "}}" after it is text.
std::optional<FieldRef> next_field(std::string_view line, std::size_t from) {
  std::size_t search = from;
  for (;;) {
    const std::size_t open = line.find("{{", search);
    if (open == std::string_view::npos) return std::nullopt;
    if (open + 2 < line.size() && line[open + 2] == '{') {
      if (auto raw = field_at(line, open, 3)) return raw;
    }
    if (auto field = field_at(line, open, 2)) return field;
    search = open + 1;
  }
}

// Text between merge fields that looks like one but is not ("{{ first name }}": a blank in the
// name), for a warning: the first such "{{...}}", else "".
std::string_view not_a_field(std::string_view text) {
  const std::size_t open = text.find("{{");
  if (open == std::string_view::npos) return {};
  const std::size_t close = text.find("}}", open + 2);
  if (close == std::string_view::npos) return {};
  return text.substr(open, std::min<std::size_t>(close + 2 - open, 60));
}

// Appends v HTML-escaped (the five characters that can change markup or leave an attribute).
void append_html_escaped(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '&':
        out.append("&amp;");
        break;
      case '<':
        out.append("&lt;");
        break;
      case '>':
        out.append("&gt;");
        break;
      case '"':
        out.append("&quot;");
        break;
      case '\'':
        out.append("&#39;");
        break;
      default:
        out.push_back(c);
    }
  }
}

// Appends a value inside an encoded part's decoded text: its line breaks made CRLF (the text's
// canonical form), HTML-escaped in a text/html part.
void append_decoded_value(std::string& out, std::string_view v, bool html) {
  std::string escaped;
  if (html) {
    append_html_escaped(escaped, v);
    v = escaped;
  }
  append_canonical_text(out, v);
}

Result<void> check_no_nul(std::string_view raw, const std::vector<std::string_view>& lines) {
  if (std::memchr(raw.data(), '\0', raw.size()) != nullptr) {
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].find('\0') != std::string_view::npos) return line_error(i + 1, "NUL byte");
    }
  }
  return {};
}

// Which lines of the header block are kept: Date and Message-ID (with their continuation lines)
// are dropped, as each send writes its own (unless the message keeps its identity); the first
// From header's value is collected, unfolded.
class HeaderFilter {
 public:
  explicit HeaderFilter(bool keep_identity) : keep_identity_(keep_identity) {}
  // Whether to keep `line`, a header or continuation line (not the empty line that ends the
  // block); an error for a malformed one.
  Result<bool> keep(std::string_view line, std::size_t lineno) {
    if (is_blank(line[0])) {
      if (lineno == 1) return line_error(lineno, "continuation line without a header");
      if (dropping_) return false;
      if (from_open_) from_value_.append(line);
      return true;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return line_error(lineno, "header without a colon");
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && is_blank(name.back())) name.remove_suffix(1);
    if (name.empty()) return line_error(lineno, "header with an empty name");
    for (char c : name) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 33 || u > 126) return line_error(lineno, "invalid header name");
    }
    from_open_ = false;
    dropping_ = !keep_identity_ && (iequals(name, "date") || iequals(name, "message-id"));
    if (dropping_) return false;
    names_.push_back(lower(name));
    if (!from_seen_ && iequals(name, "from")) {
      from_seen_ = true;
      from_open_ = true;
      from_value_.assign(line.substr(colon + 1));
    }
    return true;
  }

  // The kept fields' names, lower case, in order.
  std::vector<std::string>& names() { return names_; }

  // The first From header's value; nullopt without one.
  std::optional<std::string_view> from_value() const {
    if (!from_seen_) return std::nullopt;
    return from_value_;
  }

 private:
  std::vector<std::string> names_;
  bool keep_identity_ = false;
  bool dropping_ = false;   // inside a Date or Message-ID header (and its continuation lines)
  bool from_open_ = false;  // inside the first From header
  bool from_seen_ = false;
  std::string from_value_;
};

}  // namespace

// The template's header fields whose own text has 8-bit bytes, rewritten 7-bit
// (seven_bit_header_field); nullopt when there is none.
std::optional<std::string> with_seven_bit_headers(std::string_view raw) {
  const std::vector<std::string_view> lines = split_lines(raw);
  std::string out;
  bool changed = false;
  std::size_t i = 0;
  for (; i < lines.size() && !lines[i].empty();) {
    std::size_t end = i + 1;
    while (end < lines.size() && !lines[end].empty() && is_blank(lines[end].front())) ++end;
    std::string field;  // unfolded
    for (std::size_t k = i; k < end; ++k) field.append(lines[k]);
    std::optional<std::string> rewritten;
    if (has_8bit(field)) rewritten = seven_bit_header_field(field);
    if (rewritten) {
      out += *rewritten;
      out += "\r\n";
      changed = true;
    } else {
      for (std::size_t k = i; k < end; ++k) (out += lines[k]) += "\r\n";
    }
    i = end;
  }
  if (!changed) return std::nullopt;
  for (; i < lines.size(); ++i) (out += lines[i]) += "\r\n";
  return out;
}

Result<MessageTemplate> MessageTemplate::parse(std::string_view raw, bool merge_fields,
                                               bool keep_identity) {
  // A message of the sender's own (not one submitted whole: that keeps its bytes and their
  // signatures) gets its 8-bit header text as RFC 2047 encoded-words, parsed as if written so.
  if (merge_fields && !keep_identity) {
    if (std::optional<std::string> seven_bit = with_seven_bit_headers(raw)) {
      return parse_text(*seven_bit, merge_fields, keep_identity);
    }
  }
  return parse_text(raw, merge_fields, keep_identity);
}

Result<MessageTemplate> MessageTemplate::parse_text(std::string_view raw, bool merge_fields,
                                                    bool keep_identity) {
  MessageTemplate t;
  t.keeps_identity_ = keep_identity;
  const std::vector<std::string_view> lines = split_lines(raw);
  std::string lit;  // literal text of the segment being built
  lit.reserve(raw.size() + raw.size() / 16 + 2);

  // plain_body: the value's bytes go out as they are (not in a header, not in an encoded part).
  auto field_index = [&t](std::string_view name, bool in_header, bool plain_body) {
    for (std::size_t i = 0; i < t.fields_.size(); ++i) {
      if (t.fields_[i] == name) {
        if (in_header) t.field_in_header_[i] = true;
        if (plain_body) t.field_in_plain_body_[i] = true;
        return static_cast<int>(i);
      }
    }
    t.fields_.emplace_back(name);
    t.field_in_header_.push_back(in_header);
    t.field_in_plain_body_.push_back(plain_body);
    return static_cast<int>(t.fields_.size() - 1);
  };
  auto warn_if_not_a_field = [&t](std::string_view text, const std::string& where) {
    if (const std::string_view looks = not_a_field(text); !looks.empty()) {
      t.warnings_.push_back(where + ": \"" + std::string(looks) +
                            "\" is not a merge field (a field's name is letters, digits, '_', '.' "
                            "and '-'), so it is sent as written");
    }
  };

  // Emits one kept line (without its terminator) as literal text and fields, then CRLF.
  HeaderScanner scanner;  // where in its header field each merge field is
  std::size_t taken = 0;  // of the literal after the last field: its word's suffix
  // html: the line is in a text/html part (values are escaped unless the field is raw).
  auto emit = [&](std::string_view line, std::size_t lineno, bool in_header,
                  bool html) -> Result<void> {
    const std::size_t warnings_before = t.warnings_.size();
    auto check_text = [&](std::string_view text) {
      if (merge_fields && t.warnings_.size() == warnings_before) {
        warn_if_not_a_field(text, "line " + std::to_string(lineno));
      }
    };
    std::size_t literal_len = 0;
    LineCheck check;
    bool has_fields = false;
    std::size_t pos = 0;  // start of the literal text not yet copied
    if (in_header) scanner.begin_line(line);
    if (!line.empty() && line[0] == '.') {
      lit.push_back('.');
      ++literal_len;
    }
    while (merge_fields) {
      const std::optional<FieldRef> field = next_field(line, pos);
      if (!field) break;
      check_text(line.substr(pos, field->open - pos));
      lit.append(line.substr(pos, field->open - pos));
      literal_len += field->open - pos;
      if (!has_fields) {
        // Bytes of this line before its first field (the literal may hold earlier lines too).
        const std::size_t nl = lit.rfind('\n');
        check.literal_length = nl == std::string::npos ? lit.size() : lit.size() - nl - 1;
        check.first_segment = t.segments_.size();
        has_fields = true;
      }
      const int f = field_index(field->name, in_header, !in_header);
      check.fields.push_back(f);
      Segment seg{std::string(), f, in_header};
      seg.html = html && !field->raw;
      seg.fallback = std::string(field->fallback);
      if (in_header) {
        const std::string_view before = line.substr(pos, field->open - pos);
        scanner.literal(before);
        seg.context = scanner.field(line.substr(field->end));
        if (seg.context == HeaderContext::kUnstructured) {
          // The text the value touches on either side belongs to its word: an encoded-word must
          // be a whole word (RFC 2047 §5), so "Hello {{name}}," encodes "Jürgen," as one.
          std::size_t prefix = 0;
          while (prefix < before.size() - std::min(before.size(), taken) &&
                 !is_blank(before[before.size() - 1 - prefix]) &&
                 before[before.size() - 1 - prefix] != ':') {
            ++prefix;
          }
          const std::optional<FieldRef> next = next_field(line, field->end);
          const std::size_t limit = next ? next->open : line.size();
          std::size_t suffix = 0;
          while (field->end + suffix < limit && !is_blank(line[field->end + suffix])) ++suffix;
          seg.prefix = static_cast<uint32_t>(prefix);
          seg.suffix = static_cast<uint32_t>(suffix);
          taken = suffix;
          const std::string_view rest = line.substr(field->end);
          const bool encoded_before = before.size() >= 3 && is_blank(before.back()) &&
                                      before.substr(before.size() - 3, 2) == "?=";
          const bool encoded_after =
              rest.size() >= 3 && is_blank(rest[0]) && rest.substr(1, 2) == "=?";
          if (prefix == 0 && suffix == 0 && (encoded_before || encoded_after)) {
            seg.context = HeaderContext::kEncodedWord;
          }
        } else {
          taken = 0;
        }
      }
      seg.literal = std::move(lit);
      t.segments_.push_back(std::move(seg));
      if (!in_header) t.body_has_fields_ = true;
      lit.clear();
      pos = field->end;
    }
    taken = 0;
    check_text(line.substr(pos));
    if (in_header) scanner.literal(line.substr(pos));
    lit.append(line.substr(pos));
    literal_len += line.size() - pos;
    if (has_fields) {
      check.tail_length = lit.size();
      t.line_checks_.push_back(std::move(check));
    }
    lit.append("\r\n");
    if (literal_len > kMaxLine) {
      return line_error(lineno, std::to_string(literal_len) + " bytes (limit 998)");
    }
    if (has_8bit(line)) t.eight_bit_ = true;
    return {};
  };

  // A quoted-printable or base64 text part with merge fields in its decoded text: the wire text
  // so far ends at a kEncodeBegin mark, the decoded text and its fields follow (values inserted
  // as they are, or HTML-escaped), and a kEncodeEnd mark says how render() encodes it again.
  auto emit_encoded = [&](std::string_view decoded, const MimeLeaf& part, bool html) {
    t.segments_.push_back(Segment{std::move(lit), -1, false, false, Mark::kEncodeBegin});
    lit.clear();
    const std::string where = std::string(part.encoding == TransferEncoding::kBase64
                                              ? "the base64 part at line "
                                              : "the quoted-printable part at line ") +
                              std::to_string(part.body_begin + 1);
    const std::size_t warnings_before = t.warnings_.size();
    std::size_t line_start = 0;
    while (line_start <= decoded.size()) {
      std::size_t line_end = decoded.find("\r\n", line_start);
      if (line_end == std::string_view::npos) line_end = decoded.size();
      const std::string_view line = decoded.substr(line_start, line_end - line_start);
      std::size_t pos = 0;
      while (const std::optional<FieldRef> field = next_field(line, pos)) {
        if (t.warnings_.size() == warnings_before) {
          warn_if_not_a_field(line.substr(pos, field->open - pos), where);
        }
        lit.append(line.substr(pos, field->open - pos));
        Segment seg{std::move(lit), field_index(field->name, false, false), false};
        seg.html = html && !field->raw;
        seg.fallback = std::string(field->fallback);
        t.segments_.push_back(std::move(seg));
        lit.clear();
        pos = field->end;
      }
      if (t.warnings_.size() == warnings_before) warn_if_not_a_field(line.substr(pos), where);
      lit.append(line.substr(pos));
      if (line_end == decoded.size()) break;
      lit.append("\r\n");
      line_start = line_end + 2;
    }
    Segment end{std::move(lit), -1, false, false, Mark::kEncodeEnd};
    end.encoding = part.encoding;
    t.segments_.push_back(std::move(end));
    lit.clear();
    t.body_has_fields_ = true;
  };

  if (auto clean = check_no_nul(raw, lines); !clean) return clean.error();
  // Merge fields follow the MIME structure; a DSN's quoted text (no merge fields) is copied.
  const std::vector<MimeLeaf> parts =
      merge_fields ? find_leaf_parts(lines) : std::vector<MimeLeaf>{};
  std::size_t part = 0;  // the first part that does not end before the current line
  bool in_headers = true;
  HeaderFilter headers(keep_identity);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const std::size_t lineno = i + 1;
    if (in_headers && line.empty()) {
      in_headers = false;
      lit.append("\r\n");
      continue;
    }
    if (in_headers) {
      auto kept = headers.keep(line, lineno);
      if (!kept) return kept.error();
      if (!*kept) continue;
    }
    while (part < parts.size() && parts[part].body_end <= i) ++part;
    const MimeLeaf* leaf =
        part < parts.size() && parts[part].body_begin <= i ? &parts[part] : nullptr;
    const bool html = leaf != nullptr && leaf->type.type == "text" && leaf->type.subtype == "html";
    if (leaf != nullptr && i == leaf->body_begin && leaf->type.type == "text" &&
        !leaf->attachment &&
        (leaf->encoding == TransferEncoding::kQuotedPrintable ||
         leaf->encoding == TransferEncoding::kBase64)) {
      const std::string body = leaf_body(lines, *leaf);  // the encoded lines, as on the wire
      const std::optional<std::string> decoded = leaf->encoding == TransferEncoding::kBase64
                                                     ? base64_body_decode(body)
                                                     : quoted_printable_decode(body);
      if (decoded && next_field(*decoded, 0)) {
        emit_encoded(*decoded, *leaf, html);
        i = leaf->body_end - 1;
        continue;
      }
      if (!decoded && body.find("{{") != std::string::npos) {
        t.warnings_.push_back(
            "line " + std::to_string(lineno) + ": the part that starts here says " +
            (leaf->encoding == TransferEncoding::kBase64 ? "base64" : "quoted-printable") +
            " but is not, so its merge fields are filled in as written");
      }
    }
    auto r = emit(line, lineno, in_headers, html && !in_headers);
    if (!r) return r.error();
  }
  t.segments_.push_back(Segment{std::move(lit), -1, false});
  t.field_names_ = std::move(headers.names());
  if (auto from = headers.from_value(); from && from->find("{{") == std::string_view::npos) {
    t.from_address_ = first_mailbox(*from);
  }
  return t;
}

std::string MessageTemplate::touching_word(std::size_t segment, std::string_view value) const {
  const Segment& seg = segments_[segment];
  std::string word = seg.literal.substr(seg.literal.size() - seg.prefix);
  word.append(value);
  word.append(segments_[segment + 1].literal, 0, seg.suffix);
  return word;
}

Result<void> MessageTemplate::check_values(std::span<const std::string> values) const {
  if (values.size() != fields_.size()) {
    return make_error(std::to_string(values.size()) + " values for " +
                      std::to_string(fields_.size()) + " fields");
  }
  std::vector<bool> has_break(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::string& v = values[i];
    if (std::memchr(v.data(), '\0', v.size()) != nullptr) {
      return make_error("field " + fields_[i] + ": NUL byte");
    }
    has_break[i] = std::memchr(v.data(), '\n', v.size()) != nullptr ||
                   std::memchr(v.data(), '\r', v.size()) != nullptr;
    if (field_in_header_[i] && has_break[i]) {
      return make_error("field " + fields_[i] + ": line break in a header value");
    }
  }
  auto too_long = [this](int f) {
    return make_error("field " + fields_[static_cast<std::size_t>(f)] +
                      ": merged line longer than 998 bytes");
  };
  for (const LineCheck& lc : line_checks_) {
    std::size_t run = lc.literal_length;
    bool at_line_start = run == 0;
    for (std::size_t k = 0; k < lc.fields.size(); ++k) {
      const Segment& seg = segments_[lc.first_segment + k];
      if (k > 0) {
        const std::string& l = seg.literal;
        if (!l.empty()) {
          run += l.size() + (at_line_start && l[0] == '.' ? 1 : 0);
          at_line_start = false;
        }
      }
      const int f = lc.fields[k];
      const std::string& given = values[static_cast<std::size_t>(f)];
      const std::string& v = given.empty() ? seg.fallback : given;
      if (seg.in_header) {  // never a line break (refused above); as it will be written
        if (seg.prefix + seg.suffix > 0) {
          // Written as one word with the text it touches (render): measured as that word, whose
          // prefix is already in run and whose suffix the next literal adds again.
          const std::string word = touching_word(lc.first_segment + k, v);
          const HeaderValueWidth w = header_value_width(word, seg.context);
          run = run - std::min<std::size_t>(run, seg.prefix) + w.first;
          at_line_start = false;
          if (run > kMaxLine) return too_long(f);
          if (w.folded) run = w.last;
          run -= std::min<std::size_t>(run, seg.suffix);
          continue;
        }
        const HeaderValueWidth w = header_value_width(v, seg.context);
        run += w.first + (at_line_start && !v.empty() && v[0] == '.' ? 1 : 0);
        at_line_start = at_line_start && v.empty();
        if (run > kMaxLine) return too_long(f);
        if (w.folded) run = w.last;
        continue;
      }
      if (given.empty() || !has_break[static_cast<std::size_t>(f)]) {
        if (!v.empty()) {
          run += v.size() + (at_line_start && v[0] == '.' ? 1 : 0);
          at_line_start = false;
        }
        if (run > kMaxLine) return too_long(f);
        continue;
      }
      for (std::size_t i = 0; i < v.size(); ++i) {
        const char c = v[i];
        if (c == '\r' || c == '\n') {
          if (run > kMaxLine) return too_long(f);
          if (c == '\r' && i + 1 < v.size() && v[i + 1] == '\n') ++i;
          run = 0;
          at_line_start = true;
          continue;
        }
        if (at_line_start && c == '.') ++run;
        at_line_start = false;
        ++run;
      }
      if (run > kMaxLine) return too_long(f);
    }
    const std::string& tail = segments_[lc.first_segment + lc.fields.size()].literal;
    if (lc.tail_length > 0 && at_line_start && tail[0] == '.') ++run;
    run += lc.tail_length;
    if (run > kMaxLine) return too_long(lc.fields.back());
  }
  return {};
}

bool MessageTemplate::eight_bit(std::span<const std::string> values) const {
  if (eight_bit_) return true;
  for (std::size_t i = 0; i < values.size() && i < field_in_plain_body_.size(); ++i) {
    if (field_in_plain_body_[i] && has_8bit(values[i])) return true;
  }
  // A default written where a value is empty is the template's own text: counted in eight_bit_.
  return false;
}

bool MessageTemplate::has_field(std::string_view name) const {
  for (const std::string& n : field_names_) {
    if (iequals(n, name)) return true;
  }
  return false;
}

void MessageTemplate::render(std::string& out, std::span<const std::string> values,
                             std::string_view message_id, std::string_view date,
                             std::string_view extra_fields) const {
  if (!keeps_identity_) {
    out.append("Date: ").append(date).append("\r\nMessage-ID: ");
    if (!message_id.empty() && message_id.front() == '<') {
      out.append(message_id);
    } else {
      out.push_back('<');
      out.append(message_id).push_back('>');
    }
    out.append("\r\n");
  }
  out.append(extra_fields);
  bool at_line_start = true;
  std::size_t skip = 0;  // of this literal: written already, as the last value's word suffix
  std::string decoded;   // an encoded part's merged text, between its marks
  bool in_part = false;
  for (std::size_t s = 0; s < segments_.size(); ++s) {
    const Segment& seg = segments_[s];
    if (in_part) {
      decoded.append(seg.literal);
      if (seg.mark == Mark::kEncodeEnd) {
        if (seg.encoding == TransferEncoding::kBase64) {
          append_base64_lines(out, decoded);
        } else {
          append_quoted_printable(out, decoded);
        }
        in_part = false;
        at_line_start = true;
        continue;
      }
      const std::string& given = values[static_cast<std::size_t>(seg.field)];
      append_decoded_value(decoded, given.empty() ? seg.fallback : given,
                           seg.html && !given.empty());
      continue;
    }
    const std::string_view l =
        std::string_view(seg.literal).substr(skip, seg.literal.size() - skip - seg.prefix);
    skip = 0;
    if (seg.mark == Mark::kEncodeBegin) {
      if (s > 0 && at_line_start && !l.empty() && l[0] == '.') out.push_back('.');
      out.append(l);
      decoded.clear();
      in_part = true;
      continue;
    }
    if (!l.empty()) {
      // The first literal is stuffed at parse; later ones start a line only after an empty value
      // or a value ending in a line break.
      if (s > 0 && at_line_start && l[0] == '.') out.push_back('.');
      out.append(l);
      at_line_start = l.back() == '\n';
    }
    if (seg.field < 0) continue;
    const std::string& given = values[static_cast<std::size_t>(seg.field)];
    const std::string& v = given.empty() ? seg.fallback : given;
    if (seg.prefix + seg.suffix > 0) {
      // An unstructured field's value with the text it touches: one word, encoded as one.
      append_header_value(out, touching_word(s, v), seg.context);
      skip = seg.suffix;
      at_line_start = false;
      continue;
    }
    if (v.empty()) continue;
    if (seg.in_header) {
      if (at_line_start && v[0] == '.') out.push_back('.');
      append_header_value(out, v, seg.context);  // never a line break from the value
      at_line_start = false;
    } else if (seg.html && !given.empty()) {
      std::string escaped;  // the template's own default is written as the template has it
      append_html_escaped(escaped, v);
      append_body_value(out, escaped, at_line_start);
    } else {
      append_body_value(out, v, at_line_start);
    }
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out.append("\r\n");
}

std::string rfc5322_date(int64_t unix_seconds) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

}  // namespace ringmta::message
