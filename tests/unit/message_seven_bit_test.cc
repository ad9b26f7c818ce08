// Tests for message::downgrade_to_seven_bit: the 8-bit parts of a wire-ready copy made
// quoted-printable with their Content-Transfer-Encoding said, everything else byte for byte, the
// result still wire-ready (CRLF, dot-stuffed). They may not open sockets.
#include <gtest/gtest.h>

#include <string>

#include "message/seven_bit.h"
#include "message/transfer_encoding.h"

using ringmta::message::downgrade_to_seven_bit;

namespace {

bool has_8bit(const std::string& s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

TEST(SevenBit, ASinglePartMessageGetsQuotedPrintableAndTheFieldThatSaysSo) {
  std::string copy =
      "Subject: s\r\nContent-Transfer-Encoding: 8bit\r\n\r\nDear J\xC3\xBCrgen\r\n..dot\r\n";
  const auto r = downgrade_to_seven_bit(copy);
  EXPECT_EQ(r.parts_converted, 1u);
  EXPECT_FALSE(r.eight_bit_header);
  EXPECT_EQ(copy,
            "Subject: s\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nDear J=C3=BCrgen\r\n"
            "=2Edot\r\n");
}

TEST(SevenBit, TheFieldIsAddedWhereThereWasNoneAndTheStartOffsetIsKept) {
  std::string copy = "MAIL-PREFIX";
  copy += "Subject: s\r\n\r\ncaf\xC3\xA9\r\n";
  downgrade_to_seven_bit(copy, 11);
  EXPECT_EQ(copy,
            "MAIL-PREFIXSubject: s\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            "caf=C3=A9\r\n");
}

TEST(SevenBit, OnlyThe8BitTextPartOfAMultipartChanges) {
  const std::string head =
      "Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  const std::string rest =
      "--b\r\nContent-Type: text/plain\r\n\r\nascii only\r\n--b\r\nContent-Type: image/png\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n";
  std::string copy = head +
                     "Gr\xC3\xBC\xC3\x9F"
                     "e\r\n" +
                     rest;
  const auto r = downgrade_to_seven_bit(copy);
  EXPECT_EQ(r.parts_converted, 1u);
  EXPECT_FALSE(has_8bit(copy));
  const std::string expected_head =
      "Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
      "quoted-printable\r\n\r\n";
  EXPECT_EQ(copy, expected_head + "Gr=C3=BC=C3=9Fe\r\n" + rest);
}

TEST(SevenBit, A7BitCopyAndAnEncodedPartAreLeftAlone) {
  std::string ascii = "Subject: s\r\n\r\nhello\r\n";
  const std::string before = ascii;
  EXPECT_EQ(downgrade_to_seven_bit(ascii).parts_converted, 0u);
  EXPECT_EQ(ascii, before);
  // A message/rfc822 part may not be quoted-printable (RFC 2046 §5.2.1): kept, 8-bit.
  std::string inner =
      "Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
      "Content-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\n\xC3\xBC\r\n--b--\r\n";
  const std::string inner_before = inner;
  EXPECT_EQ(downgrade_to_seven_bit(inner).parts_converted, 0u);
  EXPECT_EQ(inner, inner_before);
}

TEST(SevenBit, An8BitHeaderIsReportedAndKept) {
  std::string copy =
      "Subject: Gr\xC3\xBC\xC3\x9F"
      "e\r\n\r\nplain\r\n";
  const auto r = downgrade_to_seven_bit(copy);
  EXPECT_TRUE(r.eight_bit_header);
  EXPECT_EQ(r.parts_converted, 0u);
}

TEST(SevenBit, TheConvertedBodyDecodesToTheOriginal) {
  std::string body;
  for (int i = 0; i < 50; ++i)
    body += "Zeile " + std::to_string(i) + " mit \xC3\xA4\xC3\xB6\xC3\xBC = ";
  std::string copy = "Subject: s\r\n\r\n" + body + "\r\n";
  downgrade_to_seven_bit(copy);
  const std::string encoded = copy.substr(copy.find("\r\n\r\n") + 4);
  auto decoded = ringmta::message::quoted_printable_decode(encoded.substr(0, encoded.size() - 2));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, body);
}

}  // namespace
