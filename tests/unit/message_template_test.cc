// Tests for message::MessageTemplate: merge fields, CRLF/dot-stuffing on the wire, header
// injection refused, Date/Message-ID replaced, line limits. They may not open sockets.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "message/template.h"
#include "message/transfer_encoding.h"

using ringmta::message::MessageTemplate;
using ringmta::message::rfc5322_date;

namespace {

constexpr const char* kPrefix = "Date: D\r\nMessage-ID: <id@x>\r\n";

MessageTemplate parse_ok(std::string_view raw) {
  auto r = MessageTemplate::parse(raw);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return MessageTemplate::parse("").value();
  return std::move(r).value();
}

std::string render(const MessageTemplate& t, const std::vector<std::string>& v) {
  std::string out;
  t.render(out, v, "<id@x>", "D");
  return out;
}

// The wire invariants: only CRLF, never a line that is exactly "." (no early end of data).
void expect_wire_safe(const std::string& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n') {
      ASSERT_TRUE(i > 0 && s[i - 1] == '\r') << "bare LF at " << i;
    }
    if (s[i] == '\r') {
      ASSERT_TRUE(i + 1 < s.size() && s[i + 1] == '\n') << "bare CR at " << i;
    }
  }
  ASSERT_GE(s.size(), 2u);
  EXPECT_EQ(s.substr(s.size() - 2), "\r\n");
  EXPECT_EQ(s.find("\r\n.\r\n"), std::string::npos);
  // Every line starting with '.' is stuffed, i.e. starts with "..".
  std::size_t pos = 0;
  while ((pos = s.find("\r\n.", pos)) != std::string::npos) {
    EXPECT_EQ(s.compare(pos + 2, 2, ".."), 0) << "unstuffed dot at " << pos;
    pos += 3;
  }
}

TEST(Template, MergeInHeaderAndBody) {
  auto t = parse_ok(
      "From: Shop <news@shop.example>\nTo: {{ name }} <{{email}}>\nSubject: Hi {{name}}\n\nDear "
      "{{name}},\nyour code is {{code}}.\n");
  EXPECT_EQ(t.fields(), (std::vector<std::string>{"name", "email", "code"}));
  EXPECT_EQ(t.from_address(), "news@shop.example");
  std::vector<std::string> v{"Ann", "ann@x.com", "XYZ"};
  EXPECT_FALSE(t.eight_bit(v));
  ASSERT_TRUE(t.check_values(v).ok());
  EXPECT_EQ(render(t, v), std::string(kPrefix) +
                              "From: Shop <news@shop.example>\r\nTo: Ann <ann@x.com>\r\n"
                              "Subject: Hi Ann\r\n\r\nDear Ann,\r\nyour code is XYZ.\r\n");
}

TEST(Template, HeaderInjectionRefused) {
  auto t = parse_ok("Subject: {{subject}}\n\nBody {{body}}\n");
  std::vector<std::string> v{"x\r\nBcc: evil@x", "fine"};
  auto r = t.check_values(v);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("subject"), std::string::npos);
  EXPECT_FALSE(t.check_values(std::vector<std::string>{"x\nBcc: e@x", "ok"}).ok());
  EXPECT_FALSE(t.check_values(std::vector<std::string>{"x\rBcc: e@x", "ok"}).ok());
  // The same bytes in a body value are fine (they become CRLF there).
  EXPECT_TRUE(t.check_values(std::vector<std::string>{"ok", "x\r\nBcc: evil@x"}).ok());
  // Even if a caller skips the check, render never lets a header value add a line.
  std::string out = render(t, v);
  EXPECT_EQ(out.find("\r\nBcc:"), std::string::npos);
  expect_wire_safe(out);
}

TEST(Template, NulRefusedAnywhere) {
  auto t = parse_ok("Subject: x\n\n{{a}}\n");
  auto r = t.check_values(std::vector<std::string>{std::string("a\0b", 3)});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("a"), std::string::npos);
  EXPECT_FALSE(MessageTemplate::parse(std::string("Subject: x\n\nnul\0here\n", 21)).ok());
}

TEST(Template, BodyWithLeadingDotsAndBareLf) {
  auto t = parse_ok("Subject: s\n\n.hidden\n..two\nbare\rcr\n.\nend");
  std::string out = render(t, {});
  EXPECT_EQ(out, std::string(kPrefix) +
                     "Subject: s\r\n\r\n..hidden\r\n...two\r\nbare\r\ncr\r\n..\r\nend\r\n");
  expect_wire_safe(out);
}

TEST(Template, SmugglingSequenceInBodyLiteral) {
  auto t = parse_ok("Subject: s\r\n\r\nA\n.\nMAIL FROM:<x@y.z>\r\n");
  std::string out = render(t, {});
  EXPECT_NE(out.find("A\r\n..\r\nMAIL FROM"), std::string::npos);
  expect_wire_safe(out);
}

TEST(Template, BodyValuesWithLineBreaksAndDots) {
  auto t = parse_ok("Subject: s\n\nx{{v}}y\n{{w}}\n");
  std::vector<std::string> v{"1\n.\n2", ".starts\r.x\r\n"};
  ASSERT_TRUE(t.check_values(v).ok());
  std::string out = render(t, v);
  EXPECT_EQ(out,
            std::string(kPrefix) + "Subject: s\r\n\r\nx1\r\n..\r\n2y\r\n..starts\r\n..x\r\n\r\n");
  expect_wire_safe(out);
}

TEST(Template, ValueAtLineStartBeginningWithDot) {
  auto t = parse_ok("Subject: s\n\n{{v}} tail\n{{e}}.after-empty\n");
  std::vector<std::string> v{".dot", ""};
  std::string out = render(t, v);
  EXPECT_EQ(out, std::string(kPrefix) + "Subject: s\r\n\r\n..dot tail\r\n..after-empty\r\n");
  expect_wire_safe(out);
  // A lone "." value on its own line must not end the data.
  out = render(t, {".", "x"});
  EXPECT_NE(out.find("\r\n.. tail\r\n"), std::string::npos);
  expect_wire_safe(out);
}

TEST(Template, NoFinalCrlfAdded) {
  auto t = parse_ok("Subject: s\n\nno newline at end");
  EXPECT_EQ(render(t, {}), std::string(kPrefix) + "Subject: s\r\n\r\nno newline at end\r\n");
  auto u = parse_ok("Subject: s\n\nends in {{f}}");
  std::string out = render(u, {"value"});
  EXPECT_EQ(out, std::string(kPrefix) + "Subject: s\r\n\r\nends in value\r\n");
  expect_wire_safe(out);
}

TEST(Template, LongLiteralLineRefused) {
  std::string raw = "Subject: s\n\nok\n" + std::string(2000, 'x') + "\n";
  auto r = MessageTemplate::parse(raw);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "line 4: 2000 bytes (limit 998)");
  EXPECT_TRUE(MessageTemplate::parse("Subject: s\n\n" + std::string(998, 'x')).ok());
  EXPECT_FALSE(MessageTemplate::parse("Subject: s\n\n" + std::string(999, 'x')).ok());
  // A stuffed dot counts: it is on the wire.
  EXPECT_FALSE(MessageTemplate::parse("Subject: s\n\n." + std::string(997, 'x')).ok());
}

TEST(Template, MergedLineTooLongNamesField) {
  auto t = parse_ok("Subject: {{s}}\n\n" + std::string(990, 'x') + "{{body}}\n");
  EXPECT_TRUE(t.check_values(std::vector<std::string>{"a", "12345678"}).ok());
  auto r = t.check_values(std::vector<std::string>{"a", "123456789"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("body"), std::string::npos);
  // A line break inside the body value resets the count.
  EXPECT_TRUE(t.check_values(std::vector<std::string>{"a", "1234\n" + std::string(990, 'y')}).ok());
  EXPECT_FALSE(
      t.check_values(std::vector<std::string>{"a", "1234\n" + std::string(999, 'y')}).ok());
  auto h = t.check_values(std::vector<std::string>{std::string(1000, 's'), "a"});
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("field s"), std::string::npos);
}

TEST(Template, MessageIdAndDateReplaced) {
  auto t = parse_ok(
      "Message-ID: <old@x>\nFrom: a@b.example\nDATE: Mon, 1 Jan 2001 00:00:00 +0000\n"
      "message-id:\n <folded@x>\nSubject: s\n\nDate: in the body stays\n");
  std::string out;
  t.render(out, {}, "new@id.example", "Tue, 02 Jan 2024 00:00:00 +0000");
  EXPECT_EQ(out,
            "Date: Tue, 02 Jan 2024 00:00:00 +0000\r\nMessage-ID: <new@id.example>\r\n"
            "From: a@b.example\r\nSubject: s\r\n\r\nDate: in the body stays\r\n");
  EXPECT_EQ(t.from_address(), "a@b.example");
}

TEST(Template, HeaderSyntax) {
  auto r = MessageTemplate::parse("Subject: x\nnot a header\n\nbody\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "line 2: header without a colon");
  // No header/body separator: everything is headers.
  auto t = parse_ok("Subject: only headers\nX-A: b");
  EXPECT_EQ(render(t, {}), std::string(kPrefix) + "Subject: only headers\r\nX-A: b\r\n");
  EXPECT_FALSE(MessageTemplate::parse("Hello there\n").ok());
  EXPECT_FALSE(MessageTemplate::parse(" folded first\n\nbody").ok());
  // Folded headers are kept.
  auto f = parse_ok("Subject: a\n\tb\n\nx");
  EXPECT_EQ(render(f, {}), std::string(kPrefix) + "Subject: a\r\n\tb\r\n\r\nx\r\n");
}

TEST(Template, FromAddressForms) {
  EXPECT_EQ(parse_ok("From: \"Shop, <Inc>\" <Sales@Shop.Example>\n\nx").from_address(),
            "Sales@shop.example");
  EXPECT_EQ(parse_ok("From: bare@x.example (Comment)\n\nx").from_address(), "bare@x.example");
  EXPECT_EQ(parse_ok("from:\n  Name\n  <folded@x.example>\n\nx").from_address(),
            "folded@x.example");
  EXPECT_EQ(parse_ok("From: a@x.example, b@y.example\n\nx").from_address(), "a@x.example");
  EXPECT_FALSE(parse_ok("From: {{sender}}\n\nx").from_address().has_value());
  EXPECT_FALSE(parse_ok("From: nobody\n\nx").from_address().has_value());
  EXPECT_FALSE(parse_ok("Subject: x\n\nx").from_address().has_value());
}

TEST(Template, FieldSyntax) {
  auto t = parse_ok("Subject: s\n\n{{a.b-c_9}} {{ bad name }} {{}} {{{x}}} {{\ty\t}}\n");
  EXPECT_EQ(t.fields(), (std::vector<std::string>{"a.b-c_9", "x", "y"}));
  EXPECT_EQ(render(t, {"1", "2", "3"}),
            std::string(kPrefix) + "Subject: s\r\n\r\n1 {{ bad name }} {{}} 2 3\r\n");
  EXPECT_FALSE(t.check_values(std::vector<std::string>{"1"}).ok());
}

TEST(Template, EightBit) {
  EXPECT_TRUE(parse_ok("Subject: s\n\ncaf\xC3\xA9\n").eight_bit({}));
  EXPECT_FALSE(parse_ok("Subject: s\n\ncafe\n").eight_bit({}));
}

TEST(Template, BodyHasFields) {
  EXPECT_FALSE(
      parse_ok("To: {{email}}\nSubject: {{name}}\n\nthe same for all\n").body_has_fields());
  EXPECT_TRUE(parse_ok("Subject: s\n\nHello {{name}}\n").body_has_fields());
}

TEST(Template, RenderAppends) {
  auto t = parse_ok("Subject: s\n\nx\n");
  std::string out = "EXISTING";
  t.render(out, {}, "<a@b>", "D");
  EXPECT_EQ(out, "EXISTINGDate: D\r\nMessage-ID: <a@b>\r\nSubject: s\r\n\r\nx\r\n");
}

TEST(Template, Rfc5322Date) {
  EXPECT_EQ(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(1795861567), "Sat, 28 Nov 2026 10:26:07 +0000");
}

}  // namespace

namespace ringmta::message {
namespace {

TEST(Template, KeepIdentityKeepsTheMessagesOwnDateAndMessageId) {
  const std::string raw =
      "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <own@example.org>\r\n"
      "Subject: {{not a field}}\r\n\r\n.body\r\n";
  auto t = MessageTemplate::parse(raw, /*merge_fields=*/false, /*keep_identity=*/true);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_TRUE(t->has_field("message-id"));
  EXPECT_TRUE(t->fields().empty());
  std::string out;
  t->render(out, {}, "<new@example.org>", "Sat, 05 Dec 2026 00:00:00 +0000", "X-Extra: 1\r\n");
  EXPECT_EQ(out,
            "X-Extra: 1\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: "
            "<own@example.org>\r\nSubject: {{not a field}}\r\n\r\n..body\r\n");
  auto campaign = MessageTemplate::parse(raw);
  ASSERT_TRUE(campaign.ok());
  EXPECT_FALSE(campaign->has_field("message-id"));  // a campaign's copies get their own
}

}  // namespace
}  // namespace ringmta::message

namespace ringmta::message {
namespace {

TEST(Template, DefaultsStandInForEmptyValues) {
  auto t = MessageTemplate::parse(
      "From: a@example.org\r\nSubject: Hello {{ name | dear reader }}!\r\n\r\n"
      "Hi {{name|there}}, from {{city|your town}}.\r\n{{note|.}}\r\n");
  ASSERT_TRUE(t.ok()) << t.error().message;
  ASSERT_EQ(t->fields(), (std::vector<std::string>{"name", "city", "note"}));
  auto render = [&](std::vector<std::string> values) {
    EXPECT_TRUE(t->check_values(values).ok());
    std::string out;
    t->render(out, values, "<id@x>", "Sat, 05 Dec 2026 00:00:00 +0000");
    return out.substr(out.find("Subject:"));
  };
  EXPECT_EQ(render({"", "", ""}),
            "Subject: Hello dear reader!\r\n\r\nHi there, from your town.\r\n..\r\n");
  EXPECT_EQ(
      render({"J\xc3\xbcrgen", "Berlin", "PS"}),
      "Subject: Hello =?UTF-8?B?SsO8cmdlbiE=?=\r\n\r\nHi J\xc3\xbcrgen, from Berlin.\r\nPS\r\n");
  // A default is template text: a non-ASCII one in a header is encoded like a value.
  auto g = MessageTemplate::parse(
      "From: a@example.org\r\nSubject: Hallo {{name|Gr\xc3\xbc\xc3\x9f"
      "e}}\r\n\r\nb\r\n");
  ASSERT_TRUE(g.ok());
  std::string out;
  g->render(out, std::vector<std::string>{""}, "<id@x>", "d");
  const std::string subject =
      out.substr(out.find("Subject:"), out.find("\r\n\r\n") - out.find("Subject:"));
  EXPECT_EQ(subject.rfind("Subject: Hallo =?UTF-8?", 0), 0u) << subject;
  EXPECT_EQ(subject.find('\xc3'), std::string::npos) << subject;
  // Without "}}" after the '|' it is text.
  auto plain = MessageTemplate::parse("From: a@example.org\r\n\r\n{{name|open\r\n");
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->fields().empty());
}

}  // namespace
}  // namespace ringmta::message

// -- merge fields that understand MIME ------------------------------------------------------------

namespace mime {

std::string body_of(const std::string& copy) {
  return copy.substr(copy.find("\r\n\r\n") + 4);
}

TEST(TemplateMime, AFieldCutByASoftLineBreakInAQuotedPrintablePartIsMerged) {
  auto t = parse_ok(
      "Subject: s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: "
      "quoted-printable\n\nGr=C3=BC=C3=9Fe aus {{ci=\nty}}, {{name|Freund}}!\n");
  EXPECT_EQ(t.fields(), (std::vector<std::string>{"city", "name"}));
  EXPECT_TRUE(t.warnings().empty());
  const std::string copy = render(t, {"K\xC3\xB6ln", ""});
  expect_wire_safe(copy);
  EXPECT_EQ(body_of(copy), "Gr=C3=BC=C3=9Fe aus K=C3=B6ln, Freund!\r\n");
  EXPECT_FALSE(t.eight_bit(std::vector<std::string>{"K\xC3\xB6ln", ""}))
      << "a value in a quoted-printable part goes out encoded";
}

TEST(TemplateMime, Base64HtmlPartIsDecodedMergedEscapedAndEncodedAgain) {
  // "<p>Hi {{name}}, {{{banner}}}</p>" in base64.
  auto t = parse_ok(
      "Subject: s\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n\n--b\n"
      "Content-Type: text/plain\n\nHi {{name}}\n--b\nContent-Type: text/html; charset=utf-8\n"
      "Content-Transfer-Encoding: base64\n\nPHA+SGkge3tuYW1lfX0sIHt7e2Jhbm5lcn19fTwvcD4=\n--b--\n");
  EXPECT_EQ(t.fields(), (std::vector<std::string>{"name", "banner"}));
  const std::string copy = render(t, {"<b>Tom & \"Jerry\"</b>", "<img src=x>"});
  expect_wire_safe(copy);
  const std::string html_b64 = copy.substr(copy.rfind("base64\r\n\r\n") + 10);
  const std::string encoded = html_b64.substr(0, html_b64.find("--b--"));
  auto decoded = ringmta::message::base64_body_decode(encoded);
  ASSERT_TRUE(decoded.has_value()) << encoded;
  EXPECT_EQ(*decoded, "<p>Hi &lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;, <img src=x></p>");
  // The text/plain part is not HTML: the value as it is.
  EXPECT_NE(copy.find("\r\n\r\nHi <b>Tom & \"Jerry\"</b>\r\n--b\r\n"), std::string::npos) << copy;
}

TEST(TemplateMime, PlainHtmlPartEscapesValuesButNotRawFieldsOrTheTemplatesDefault) {
  auto t = parse_ok(
      "Subject: {{name}}\nContent-Type: text/html\n\n<p>{{name}} {{{raw}}} "
      "{{empty|<i>there</i>}}</p>\n");
  const std::string copy = render(t, {"<b>x</b>", "<b>y</b>", ""});
  EXPECT_EQ(body_of(copy), "<p>&lt;b&gt;x&lt;/b&gt; <b>y</b> <i>there</i></p>\r\n");
  EXPECT_NE(copy.find("Subject: <b>x</b>\r\n"), std::string::npos) << "headers are not HTML";
}

TEST(TemplateMime, EightBitIsDecidedByEachCopy) {
  auto t = parse_ok("To: {{name}} <{{email}}>\nSubject: s\n\nDear {{name}}\n");
  EXPECT_TRUE(t.eight_bit(std::vector<std::string>{"J\xC3\xBCrgen", "j@x.example"}));
  EXPECT_FALSE(t.eight_bit(std::vector<std::string>{"Jurgen", "j@x.example"}));
  auto header_only = parse_ok("To: {{name}} <{{email}}>\nSubject: s\n\nDear reader\n");
  EXPECT_FALSE(header_only.eight_bit(std::vector<std::string>{"J\xC3\xBCrgen", "j@x.example"}))
      << "a header value is RFC 2047-encoded";
}

TEST(TemplateMime, WarnsAboutTextThatLooksLikeAFieldAndAPartThatIsNotWhatItSays) {
  auto t = parse_ok("Subject: Hi {{ first name }}\n\nok {{name}}\n");
  ASSERT_EQ(t.warnings().size(), 1u);
  EXPECT_NE(t.warnings()[0].find("line 1: \"{{ first name }}\" is not a merge field"),
            std::string::npos)
      << t.warnings()[0];
  auto bad_qp = parse_ok(
      "Subject: s\nContent-Transfer-Encoding: quoted-printable\n\nsee https://x/?a=b {{name}}\n");
  ASSERT_EQ(bad_qp.warnings().size(), 1u);
  EXPECT_NE(bad_qp.warnings()[0].find("line 4: the part that starts here says quoted-printable"),
            std::string::npos)
      << bad_qp.warnings()[0];
  EXPECT_EQ(body_of(render(bad_qp, {"Ann"})), "see https://x/?a=b Ann\r\n");
  auto in_part =
      parse_ok("Subject: s\nContent-Transfer-Encoding: quoted-printable\n\n{{ x y }} {{name}}\n");
  ASSERT_EQ(in_part.warnings().size(), 1u);
  EXPECT_NE(in_part.warnings()[0].find("the quoted-printable part at line 4"), std::string::npos);
}

TEST(TemplateMime, AnEncodedPartWithoutFieldsIsCopiedAsItIs) {
  const std::string raw =
      "Subject: s\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n"
      "no fields=20here, soft=\nbreak\n";
  auto t = parse_ok(raw);
  EXPECT_EQ(body_of(render(t, {})), "no fields=20here, soft=\r\nbreak\r\n");
}

TEST(TemplateMime, LineBreaksInValuesBecomeCrlfInsideAnEncodedPart) {
  auto t =
      parse_ok("Subject: s\nContent-Transfer-Encoding: quoted-printable\n\nA\n{{address}}\nB\n");
  const std::string copy = render(t, {"line1\nline2\r\n.line3"});
  expect_wire_safe(copy);
  EXPECT_EQ(body_of(copy), "A\r\nline1\r\nline2\r\n=2Eline3\r\nB\r\n");
}

}  // namespace mime
