// Tests for message/transfer_encoding.h and message/mime_part.h: quoted-printable and base64
// decoded and encoded (round trips, line limits, no line that starts with '.'), Content-Type
// parameters, and the leaf parts of nested multiparts. They may not open sockets.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "message/mime_part.h"
#include "message/transfer_encoding.h"

using namespace ringmta::message;

namespace {

// The encoded lines (each must end with CRLF), without their line ends.
std::vector<std::string> lines_of(const std::string& encoded) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < encoded.size()) {
    const std::size_t end = encoded.find("\r\n", start);
    EXPECT_NE(end, std::string::npos) << "a line without CRLF at " << start;
    if (end == std::string::npos) break;
    out.push_back(encoded.substr(start, end - start));
    start = end + 2;
  }
  return out;
}

// What a reader of the part gets back: the encoded text without the last line end (it belongs to
// the next delimiter), decoded.
std::string qp_round_trip(std::string_view text) {
  std::string encoded;
  append_quoted_printable(encoded, text);
  for (const std::string& line : lines_of(encoded)) {
    EXPECT_LE(line.size(), 76u) << line;
    EXPECT_FALSE(!line.empty() && line[0] == '.') << line;
    for (char c : line)
      EXPECT_TRUE(c == '\t' || (c >= 32 && c < 127)) << "byte " << int(c) << " in " << line;
  }
  EXPECT_GE(encoded.size(), 2u);
  auto decoded = quoted_printable_decode(std::string_view(encoded).substr(0, encoded.size() - 2));
  EXPECT_TRUE(decoded.has_value()) << encoded;
  return decoded.value_or("<not quoted-printable>");
}

TEST(QuotedPrintable, DecodesSoftBreaksHexAndTransportPadding) {
  EXPECT_EQ(quoted_printable_decode("Gr=C3=BC=\r\nße aus {{ci=\r\nty}}  \r\nend"),
            "Grüße aus {{city}}\r\nend");
  EXPECT_EQ(quoted_printable_decode("lower =c3=a9"), "lower é");
  EXPECT_EQ(quoted_printable_decode("a=\r\n"), "a");
}

TEST(QuotedPrintable, RefusesWhatIsNotQuotedPrintable) {
  EXPECT_FALSE(quoted_printable_decode("x=zz").has_value());
  EXPECT_FALSE(quoted_printable_decode("https://x.example/?a=b&c=d").has_value());
  EXPECT_FALSE(quoted_printable_decode("ends with =4").has_value());
}

TEST(QuotedPrintable, EncodesWhatMustBeAndRoundTrips) {
  std::string out;
  append_quoted_printable(out, "a=b \r\n.dot\r\ntrailing \r\nJürgen\ttab\t");
  EXPECT_EQ(out, "a=3Db=20\r\n=2Edot\r\ntrailing=20\r\nJ=C3=BCrgen\ttab=09\r\n");
  const std::vector<std::string> texts{"",       "\r\n", "x\r\n",   "lone\nLF and lone\rCR",
                                       "=\r\n=", ".",    "..\r\n.."};
  for (const std::string& text : texts) {
    EXPECT_EQ(qp_round_trip(text), text);
  }
}

TEST(QuotedPrintable, LongLinesAreBrokenSoftlyNeverInsideAnEscape) {
  std::mt19937 rng(20261207);
  const std::string alphabet = "ab =.\t\xC3\xBC\xE2\x82\xAC{}";
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const int n = static_cast<int>(rng() % 400);
    for (int i = 0; i < n; ++i) {
      if (rng() % 40 == 0) {
        text += "\r\n";
      } else {
        text.push_back(alphabet[rng() % alphabet.size()]);
      }
    }
    ASSERT_EQ(qp_round_trip(text), text) << "round " << round;
  }
}

TEST(Base64Body, LinesOf76AndRoundTrip) {
  const std::string bytes(200, '\xAB');
  std::string out;
  append_base64_lines(out, bytes);
  const auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].size(), 76u);
  EXPECT_EQ(base64_body_decode(out), bytes);
  EXPECT_EQ(base64_body_decode("SGVs\r\n bG8=\r\n"), "Hello");
  EXPECT_FALSE(base64_body_decode("not*base64").has_value());
  std::string empty;
  append_base64_lines(empty, "");
  EXPECT_EQ(empty, "\r\n");
}

TEST(TransferEncoding, Names) {
  EXPECT_EQ(parse_transfer_encoding(" Quoted-Printable "), TransferEncoding::kQuotedPrintable);
  EXPECT_EQ(parse_transfer_encoding("BASE64 (comment)"), TransferEncoding::kBase64);
  EXPECT_EQ(parse_transfer_encoding(""), TransferEncoding::kSevenBit);
  EXPECT_EQ(parse_transfer_encoding("8bit"), TransferEncoding::kEightBit);
  EXPECT_EQ(parse_transfer_encoding("x-uuencode"), TransferEncoding::kUnknown);
}

TEST(ContentType, TypeSubtypeAndParameters) {
  ContentType t =
      parse_content_type(" Multipart/Alternative; charset=x;\r\n\tBoundary=\"=_a b\\\"c\"");
  EXPECT_EQ(t.type, "multipart");
  EXPECT_EQ(t.subtype, "alternative");
  EXPECT_EQ(t.boundary, "=_a b\"c");
  ContentType h = parse_content_type("text/html; charset=UTF-8");
  EXPECT_EQ(h.subtype, "html");
  EXPECT_EQ(h.charset, "utf-8");
  ContentType bad = parse_content_type("garbage");
  EXPECT_EQ(bad.type, "text");
  EXPECT_EQ(bad.subtype, "plain");
}

std::vector<std::string_view> split(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) break;
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

TEST(MimeParts, NestedMultipartsGiveTheirLeavesInOrder) {
  const auto lines = split(
      "From: a@b.example\n"                                    // 0
      "Content-Type: multipart/mixed;\n"                       // 1
      " boundary=\"outer\"\n"                                  // 2
      "\n"                                                     // 3
      "preamble\n"                                             // 4
      "--outer\n"                                              // 5
      "Content-Type: multipart/alternative; boundary=inner\n"  // 6
      "\n"                                                     // 7
      "--inner\n"                                              // 8
      "Content-Type: text/plain; charset=utf-8\n"              // 9
      "Content-Transfer-Encoding: quoted-printable\n"          // 10
      "\n"                                                     // 11
      "plain=20text\n"                                         // 12
      "--inner-not-a-delimiter\n"                              // 13
      "--inner\n"                                              // 14
      "Content-Type: text/html\n"                              // 15
      "Content-Transfer-Encoding: base64\n"                    // 16
      "\n"                                                     // 17
      "PGI+aGk8L2I+\n"                                         // 18
      "--inner--\n"                                            // 19
      "--outer\n"                                              // 20
      "Content-Type: application/pdf\n"                        // 21
      "\n"                                                     // 22
      "%PDF\n"                                                 // 23
      "--outer--\n"                                            // 24
      "epilogue\n");                                           // 25
  const auto parts = find_leaf_parts(lines);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].body_begin, 12u);
  EXPECT_EQ(parts[0].body_end, 14u);  // the text that only starts like the boundary is the part's
  EXPECT_EQ(parts[0].encoding, TransferEncoding::kQuotedPrintable);
  EXPECT_EQ(parts[1].type.subtype, "html");
  EXPECT_EQ(parts[1].encoding, TransferEncoding::kBase64);
  EXPECT_EQ(parts[1].body_begin, 18u);
  EXPECT_EQ(parts[1].body_end, 19u);
  EXPECT_EQ(parts[2].type.type, "application");
  EXPECT_EQ(parts[2].body_end, 24u);
}

TEST(MimeParts, ASinglePartMessageIsOneLeafAndDeepNestingStops) {
  const auto lines = split("Subject: s\n\nbody\n");
  const auto parts = find_leaf_parts(lines);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].body_begin, 2u);
  EXPECT_EQ(parts[0].type.subtype, "plain");
  std::string deep;
  for (int i = 0; i < 100; ++i) {
    deep += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" +
            std::to_string(i) + "\n";
  }
  deep += "\nleaf\n";
  EXPECT_EQ(find_leaf_parts(split(deep)).size(), 1u);  // stops at kMaxDepth: one opaque leaf
}

}  // namespace
