// Tests for message::build_message: the MIME structure for each set of parts, bodies in
// quoted-printable whose merge fields the template still finds, files in base64 with their names,
// encoded headers, and the errors. They may not open sockets.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "message/builder.h"
#include "message/mime_part.h"
#include "message/template.h"

using namespace ringmta::message;

namespace {

std::string built(const MessageParts& parts) {
  auto r = build_message(parts);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : std::string();
}

MessageParts basic() {
  MessageParts p;
  p.from = "M\xC3\xBCller News <news@example.org>";
  p.subject =
      "Gr\xC3\xBC\xC3\x9F"
      "e f\xC3\xBCr {{name}} aus K\xC3\xB6ln";
  p.text =
      "Hallo {{name}},\nein sehr langer Satz, der so lang ist, dass quoted-printable ihn weich "
      "umbrechen muss, vielleicht mitten in {{city}}.\n";
  return p;
}

TEST(MessageBuilder, TextOnlyIsOneQuotedPrintablePartWhoseFieldsTheTemplateFinds) {
  const std::string m = built(basic());
  EXPECT_NE(m.find("\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: quoted-printable\r\n\r\n"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find("multipart"), std::string::npos);
  EXPECT_NE(m.find("To: {{email}}\r\n"), std::string::npos);
  EXPECT_NE(m.find("From: =?UTF-8?B?"), std::string::npos) << "a non-ASCII display name is encoded";
  for (char c : m) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << "the built message is 7-bit";
  auto t = MessageTemplate::parse(m);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->fields(), (std::vector<std::string>{"email", "name", "city"}));
  EXPECT_TRUE(t->warnings().empty());
}

TEST(MessageBuilder, TextAndHtmlWithImagesAndAttachmentsNest) {
  MessageParts p = basic();
  p.html = "<p>Hallo {{name}} <img src=\"cid:logo.png\"></p>";
  p.inline_images = {{"logo.png", std::string("\x89PNG\r\n", 6)}};
  p.attachments = {{"Preisliste \xC3\xBC.pdf", "%PDF-1.4"}, {"plan.csv", "a,b\n{{name}}\n"}};
  const std::string m = built(p);
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0; pos < m.size();) {
    const std::size_t end = m.find("\r\n", pos);
    ASSERT_NE(end, std::string::npos) << "every line ends with CRLF";
    lines.push_back(std::string_view(m).substr(pos, end - pos));
    pos = end + 2;
  }
  const auto leaves = find_leaf_parts(lines);
  ASSERT_EQ(leaves.size(), 5u);
  EXPECT_EQ(leaves[0].type.subtype, "plain");
  EXPECT_EQ(leaves[1].type.subtype, "html");
  EXPECT_EQ(leaves[2].type.type, "image");
  EXPECT_FALSE(leaves[2].attachment);
  EXPECT_EQ(leaves[3].type.subtype, "pdf");
  EXPECT_TRUE(leaves[3].attachment);
  EXPECT_EQ(leaves[4].type.subtype, "csv");
  EXPECT_NE(m.find("Content-Type: multipart/mixed;"), std::string::npos);
  EXPECT_NE(m.find("Content-Type: multipart/alternative;"), std::string::npos);
  EXPECT_NE(m.find("Content-Type: multipart/related;"), std::string::npos);
  EXPECT_NE(m.find("Content-ID: <logo.png>\r\n"), std::string::npos);
  EXPECT_NE(m.find("filename*=utf-8''Preisliste%20%C3%BC.pdf"), std::string::npos) << m;
  // A text attachment is a file: its "{{name}}" is not a merge field of the message.
  auto t = MessageTemplate::parse(m);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->fields(), (std::vector<std::string>{"email", "name", "city"}));
}

TEST(MessageBuilder, TheSubjectsBlanksSurviveEncodedWordsOnBothSidesOfAField) {
  auto t = MessageTemplate::parse(built(basic()));
  ASSERT_TRUE(t.ok());
  for (const std::string name : {"Ann", "J\xC3\xBCrgen"}) {
    std::string out;
    t->render(out, std::vector<std::string>{"a@example.net", name, "Wien"}, "<id@x>", "D");
    const std::size_t subject = out.find("Subject: ");
    const std::string line = out.substr(subject, out.find("\r\nMIME-Version") - subject);
    // Every word is an encoded-word (the blanks between them are not shown), and the blanks around
    // the name are inside the template's own: "Grüße für " NAME " aus Köln".
    EXPECT_NE(line.find("=?UTF-8?B?R3LDvMOfZSBmw7xyIA==?= =?UTF-8?B?"), std::string::npos) << line;
    EXPECT_NE(line.find("?= =?UTF-8?B?IGF1cyBLw7Zsbg==?="), std::string::npos) << line;
    EXPECT_EQ(line.find(name), std::string::npos) << "the name is encoded too: " << line;
  }
}

TEST(MessageBuilder, ContentTypesAndErrors) {
  EXPECT_EQ(content_type_for("a.PDF"), "application/pdf");
  EXPECT_EQ(content_type_for("photo.jpeg"), "image/jpeg");
  EXPECT_EQ(content_type_for("noext"), "application/octet-stream");
  MessageParts none = basic();
  none.text.clear();
  EXPECT_FALSE(build_message(none).ok());
  MessageParts images = basic();
  images.inline_images = {{"a.png", "x"}};
  EXPECT_FALSE(build_message(images).ok()) << "inline images need HTML";
  MessageParts injected = basic();
  injected.subject = "x\r\nBcc: evil@example.net";
  EXPECT_FALSE(build_message(injected).ok());
  MessageParts no_from = basic();
  no_from.from = " ";
  EXPECT_FALSE(build_message(no_from).ok());
}

}  // namespace
