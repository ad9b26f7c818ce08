// MIME structure of a message template: its leaf parts (see mime_part.h). It may not decode
// bodies or know about merge fields.
#include "message/mime_part.h"

#include "util/strings.h"

namespace ringmta::message {
namespace {

// RFC 2045 §5.1 token characters: printable ASCII but specials and space.
bool is_token_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 32 && u < 127 &&
         std::string_view("()<>@,;:\\\"/[]?=").find(c) == std::string_view::npos;
}

// A token or a quoted-string at v[i...]; i moves past it.
std::string read_value(std::string_view v, std::size_t& i) {
  std::string out;
  if (i < v.size() && v[i] == '"') {
    for (++i; i < v.size() && v[i] != '"'; ++i) {
      if (v[i] == '\\' && i + 1 < v.size()) ++i;
      out.push_back(v[i]);
    }
    if (i < v.size()) ++i;  // the closing quote
    return out;
  }
  while (i < v.size() && is_token_char(v[i])) out.push_back(v[i++]);
  return out;
}

void skip_blanks(std::string_view v, std::size_t& i) {
  while (i < v.size() && (is_blank(v[i]) || v[i] == '\r' || v[i] == '\n')) ++i;
}

void walk(std::span<const std::string_view> lines, std::size_t begin, std::size_t end, int depth,
          std::vector<MimeLeaf>& out) {
  std::string content_type, transfer_encoding, disposition;
  std::size_t encoding_line = kNoLine;
  std::string* field = nullptr;  // the field whose continuation lines are being read
  std::size_t i = begin;
  for (; i < end && !lines[i].empty(); ++i) {
    const std::string_view line = lines[i];
    if (is_blank(line[0])) {
      if (field != nullptr) field->append(line);
      continue;
    }
    field = nullptr;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = trim(line.substr(0, colon));
    if (iequals(name, "content-type")) {
      field = &content_type;
    } else if (iequals(name, "content-transfer-encoding")) {
      field = &transfer_encoding;
      encoding_line = i;
    } else if (iequals(name, "content-disposition")) {
      field = &disposition;
    }
    if (field != nullptr) field->assign(line.substr(colon + 1));
  }
  const std::size_t body_begin = i < end ? i + 1 : end;
  ContentType type = content_type.empty() ? ContentType{} : parse_content_type(content_type);
  if (type.type == "multipart" && !type.boundary.empty() && depth < kMaxDepth) {
    const std::string dashes = "--" + type.boundary;
    std::size_t part_start = end;  // end: no part open (the preamble)
    for (std::size_t j = body_begin; j < end; ++j) {
      std::string_view rest = lines[j];
      if (!rest.starts_with(dashes)) continue;
      rest.remove_prefix(dashes.size());
      const bool close = rest.starts_with("--");
      if (close) rest.remove_prefix(2);
      if (!trim(rest).empty()) continue;  // text that starts like the boundary
      if (part_start != end) walk(lines, part_start, j, depth + 1, out);
      if (close) return;  // the epilogue follows
      part_start = j + 1;
    }
    if (part_start != end) walk(lines, part_start, end, depth + 1, out);  // never closed
    return;
  }
  const std::string_view kind =
      trim(std::string_view(disposition).substr(0, disposition.find(';')));
  out.push_back(MimeLeaf{begin, encoding_line, body_begin, end, std::move(type),
                         parse_transfer_encoding(transfer_encoding), iequals(kind, "attachment")});
}

}  // namespace

ContentType parse_content_type(std::string_view value) {
  ContentType out;
  std::size_t i = 0;
  skip_blanks(value, i);
  std::string type = lower(read_value(value, i));
  if (i >= value.size() || value[i] != '/') return out;  // not type/subtype: the default
  ++i;
  std::string subtype = lower(read_value(value, i));
  if (type.empty() || subtype.empty()) return out;
  out.type = std::move(type);
  out.subtype = std::move(subtype);
  while (i < value.size()) {
    const std::size_t semicolon = value.find(';', i);
    if (semicolon == std::string_view::npos) break;
    i = semicolon + 1;
    skip_blanks(value, i);
    std::string name = lower(read_value(value, i));
    skip_blanks(value, i);
    if (i >= value.size() || value[i] != '=') continue;
    ++i;
    skip_blanks(value, i);
    std::string v = read_value(value, i);
    if (name == "boundary") {
      out.boundary = std::move(v);
    } else if (name == "charset") {
      out.charset = lower(v);
    }
  }
  return out;
}

std::string leaf_body(std::span<const std::string_view> lines, const MimeLeaf& leaf) {
  std::string body;
  for (std::size_t k = leaf.body_begin; k < leaf.body_end; ++k) {
    if (k > leaf.body_begin) body.append("\r\n");
    body.append(lines[k]);
  }
  return body;
}

std::vector<MimeLeaf> find_leaf_parts(std::span<const std::string_view> lines) {
  std::vector<MimeLeaf> out;
  walk(lines, 0, lines.size(), 0, out);
  return out;
}

}  // namespace ringmta::message
