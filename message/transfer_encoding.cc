// Content-Transfer-Encoding: quoted-printable and base64 bodies decoded and encoded (see
// transfer_encoding.h). It may not parse MIME structure.
#include "message/transfer_encoding.h"

#include "util/base64.h"
#include "util/strings.h"

namespace ringmta::message {
namespace {

constexpr std::size_t kMaxEncodedLine = 76;  // RFC 2045 §6.7 rule 5, §6.8
constexpr char kHex[] = "0123456789ABCDEF";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;  // lower case is not canonical but is common
  return -1;
}

}  // namespace

TransferEncoding parse_transfer_encoding(std::string_view value) {
  std::string_view v = value;
  if (const std::size_t comment = v.find('('); comment != std::string_view::npos) {
    v = v.substr(0, comment);
  }
  v = trim(v, " \t\r\n");
  if (v.empty() || iequals(v, "7bit")) return TransferEncoding::kSevenBit;
  if (iequals(v, "8bit")) return TransferEncoding::kEightBit;
  if (iequals(v, "binary")) return TransferEncoding::kBinary;
  if (iequals(v, "quoted-printable")) return TransferEncoding::kQuotedPrintable;
  if (iequals(v, "base64")) return TransferEncoding::kBase64;
  return TransferEncoding::kUnknown;
}

std::optional<std::string> quoted_printable_decode(std::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  std::size_t line_start = 0;
  while (line_start <= encoded.size()) {
    std::size_t end = encoded.find("\r\n", line_start);
    const bool last = end == std::string_view::npos;
    if (last) end = encoded.size();
    std::string_view line = encoded.substr(line_start, end - line_start);
    while (!line.empty() && is_blank(line.back())) line.remove_suffix(1);  // transport padding
    bool soft = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (c != '=') {
        out.push_back(c);
        continue;
      }
      if (i + 1 == line.size()) {
        soft = true;
        break;
      }
      if (i + 2 >= line.size()) return std::nullopt;  // "=X" at a line end
      const int hi = hex_value(line[i + 1]);
      const int lo = hex_value(line[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
    if (last) break;
    if (!soft) out.append("\r\n");
    line_start = end + 2;
  }
  return out;
}

std::optional<std::string> base64_body_decode(std::string_view encoded) {
  std::string compact;
  compact.reserve(encoded.size());
  for (char c : encoded) {
    if (c != '\r' && c != '\n' && !is_blank(c)) compact.push_back(c);
  }
  return base64_decode(compact);
}

void append_canonical_text(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r' || c == '\n') {
      out.append("\r\n");
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out.push_back(c);
    }
  }
}

void append_quoted_printable(std::string& out, std::string_view text) {
  std::size_t column = 0;
  auto put = [&](std::string_view piece) {
    // A soft line break before a piece that would pass the limit (room is kept for the '=').
    if (column + piece.size() > kMaxEncodedLine - 1) {
      out.append("=\r\n");
      column = 0;
    }
    out.append(piece);
    column += piece.size();
  };
  auto encoded = [](unsigned char c) { return std::string{'=', kHex[c >> 4], kHex[c & 0x0F]}; };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      out.append("\r\n");
      column = 0;
      ++i;
      continue;
    }
    const auto u = static_cast<unsigned char>(c);
    const bool line_end_next =
        i + 1 == text.size() || (text[i + 1] == '\r' && i + 2 < text.size() && text[i + 2] == '\n');
    if (is_blank(c) && !line_end_next) {
      put(std::string_view(&text[i], 1));
    } else if (u >= 33 && u <= 126 && c != '=' && !(c == '.' && column == 0)) {
      put(std::string_view(&text[i], 1));
      if (column == 1 && c == '.') {
        // A soft break just put the '.' at a line start: written encoded instead.
        out.back() = '=';
        out.append("2E");
        column = 3;
      }
    } else {
      put(encoded(u));
    }
  }
  out.append("\r\n");  // the last line's end: the one before a delimiter or the message's end
}

void append_base64_lines(std::string& out, std::string_view bytes) {
  const std::string encoded = base64_encode(bytes);
  if (encoded.empty()) out.append("\r\n");  // an empty part is an empty line
  for (std::size_t i = 0; i < encoded.size(); i += kMaxEncodedLine) {
    out.append(encoded, i, kMaxEncodedLine);
    out.append("\r\n");
  }
}

}  // namespace ringmta::message
