// The 7-bit copy of a message for a server without 8BITMIME (see seven_bit.h). It may not know
// about merge fields or SMTP sessions.
#include "message/seven_bit.h"

#include <string_view>
#include <vector>

#include "message/mime_part.h"
#include "message/transfer_encoding.h"
#include "util/strings.h"

namespace ringmta::message {
namespace {

// Whether a leaf is converted: 8-bit bytes in its body, not encoded already, and a type that may
// be quoted-printable (RFC 2046 §5.2.1: a message/* part may not), with a header block to say so.
bool converts(const MimeLeaf& leaf, const std::vector<std::string_view>& lines) {
  if (leaf.type.type == "message" || leaf.type.type == "multipart") return false;
  if (leaf.encoding == TransferEncoding::kQuotedPrintable ||
      leaf.encoding == TransferEncoding::kBase64 || leaf.encoding == TransferEncoding::kUnknown) {
    return false;
  }
  if (leaf.body_begin == 0 || leaf.body_begin >= leaf.body_end ||
      !lines[leaf.body_begin - 1].empty()) {
    return false;
  }
  for (std::size_t i = leaf.body_begin; i < leaf.body_end; ++i) {
    if (has_8bit(lines[i])) return true;
  }
  return false;
}

void append_stuffed(std::string& out, std::string_view line) {
  if (!line.empty() && line[0] == '.') out.push_back('.');
  out.append(line);
  out.append("\r\n");
}

}  // namespace

SevenBitResult downgrade_to_seven_bit(std::string& copy, std::size_t start) {
  SevenBitResult result;
  const std::string_view wire = std::string_view(copy).substr(start);
  if (!has_8bit(wire)) return result;
  // The message's lines as its author wrote them: CRLF removed, dot-stuffing undone.
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0; pos < wire.size();) {
    std::size_t end = wire.find("\r\n", pos);
    if (end == std::string_view::npos) end = wire.size();
    std::string_view line = wire.substr(pos, end - pos);
    if (!line.empty() && line[0] == '.') line.remove_prefix(1);
    lines.push_back(line);
    pos = end + 2;
  }
  const std::vector<MimeLeaf> leaves = find_leaf_parts(lines);
  std::vector<const MimeLeaf*> converted;
  std::vector<bool> in_body(lines.size(), false);
  for (const MimeLeaf& leaf : leaves) {
    for (std::size_t i = leaf.body_begin; i < leaf.body_end; ++i) in_body[i] = true;
    if (converts(leaf, lines)) converted.push_back(&leaf);
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!in_body[i] && has_8bit(lines[i])) result.eight_bit_header = true;
  }
  if (converted.empty()) return result;

  std::string out;
  out.reserve(wire.size() + wire.size() / 8);
  std::size_t next = 0;  // the next converted leaf
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const MimeLeaf* leaf = next < converted.size() ? converted[next] : nullptr;
    if (leaf != nullptr && i == leaf->encoding_line) {
      out.append("Content-Transfer-Encoding: quoted-printable\r\n");
      while (i + 1 < leaf->body_begin - 1 && !lines[i + 1].empty() && is_blank(lines[i + 1][0])) {
        ++i;  // the old field's continuation lines
      }
      continue;
    }
    if (leaf != nullptr && i == leaf->body_begin - 1 && leaf->encoding_line == kNoLine) {
      out.append("Content-Transfer-Encoding: quoted-printable\r\n");
    }
    if (leaf != nullptr && i == leaf->body_begin) {
      append_quoted_printable(out, leaf_body(lines, *leaf));
      i = leaf->body_end - 1;
      ++next;
      ++result.parts_converted;
      continue;
    }
    append_stuffed(out, lines[i]);
  }
  copy.replace(start, std::string::npos, out);
  return result;
}

}  // namespace ringmta::message
