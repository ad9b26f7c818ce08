// Tests for message/header_value.h through MessageTemplate: merge values in display names,
// subjects, quoted strings and addresses are written so that the field keeps its structure —
// RFC 2047 encoded-words for non-ASCII (folded, never splitting a UTF-8 character), one quoted
// string for an ASCII display name with specials, addresses untouched. No sockets.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "message/template.h"
#include "util/base64.h"

namespace ringmta::message {
namespace {

std::string header_of(std::string_view raw, const std::vector<std::string>& values,
                      std::string_view name) {
  auto t = MessageTemplate::parse(raw);
  EXPECT_TRUE(t.ok());
  EXPECT_TRUE(t->check_values(values).ok());
  std::string out;
  t->render(out, values, "<id@x>", "D");
  const std::string key = "\r\n" + std::string(name) + ": ";
  std::size_t at = out.find(key);
  EXPECT_NE(at, std::string::npos) << out;
  at += key.size();
  std::size_t end = at;
  while ((end = out.find("\r\n", end)) != std::string::npos && end + 2 < out.size() &&
         (out[end + 2] == ' ' || out[end + 2] == '\t')) {
    end += 2;  // folded onto the next line
  }
  return out.substr(at, end - at);
}

// The text of "=?UTF-8?B?...?=" words separated by folds, decoded and joined.
std::string decoded(std::string_view words) {
  std::string text;
  std::size_t pos = 0;
  while ((pos = words.find("=?UTF-8?B?", pos)) != std::string_view::npos) {
    pos += 10;
    std::size_t end = words.find("?=", pos);
    auto bytes = base64_decode(words.substr(pos, end - pos));
    EXPECT_TRUE(bytes.has_value());
    EXPECT_FALSE(!bytes->empty() && (static_cast<unsigned char>((*bytes)[0]) & 0xC0) == 0x80)
        << "a word starts inside a UTF-8 character";
    EXPECT_LE(end + 2 - (pos - 10), 75u) << "encoded-word longer than 75";
    text += *bytes;
    pos = end + 2;
  }
  return text;
}

constexpr std::string_view kTo = "From: a@x.org\nTo: {{name}} <{{email}}>\nSubject: s\n\nb\n";

TEST(HeaderValue, NonAsciiDisplayNameIsEncodedTheAddressIsNot) {
  const std::string to = header_of(kTo, {"Jürgen Müller", "j@dest.test"}, "To");
  EXPECT_TRUE(to.starts_with("=?UTF-8?B?")) << to;
  EXPECT_TRUE(to.ends_with("?= <j@dest.test>")) << to;
  EXPECT_EQ(decoded(to), "Jürgen Müller");
  // A comma in an encoded display name cannot split the address list.
  const std::string comma = header_of(kTo, {"Müller, Jürgen", "j@dest.test"}, "To");
  EXPECT_EQ(comma.find(','), std::string::npos) << comma;
  EXPECT_EQ(decoded(comma), "Müller, Jürgen");
}

TEST(HeaderValue, AsciiDisplayNameWithSpecialsIsQuoted) {
  EXPECT_EQ(header_of(kTo, {"Tom \"T\" & Co", "t@dest.test"}, "To"),
            "\"Tom \\\"T\\\" & Co\" <t@dest.test>");
  EXPECT_EQ(header_of(kTo, {"Smith, Ann", "a@dest.test"}, "To"), "\"Smith, Ann\" <a@dest.test>");
  EXPECT_EQ(header_of(kTo, {"Ann Smith", "a@dest.test"}, "To"), "Ann Smith <a@dest.test>");
  // Two fields make one display name; each is its own word.
  EXPECT_EQ(
      header_of("To: {{first}} {{last}} <{{email}}>\n\nb\n", {"Ann", "O'Neil, Jr.", "a@d.t"}, "To"),
      "Ann \"O'Neil, Jr.\" <a@d.t>");
}

TEST(HeaderValue, InsideTheTemplatesQuotesOnlyEscapes) {
  EXPECT_EQ(header_of("To: \"{{name}}\" <{{email}}>\n\nb\n", {"a\"b\\c", "a@d.t"}, "To"),
            "\"a\\\"b\\\\c\" <a@d.t>");
}

TEST(HeaderValue, AddressesAndUnknownFieldsAreWrittenAsTheyAre) {
  EXPECT_EQ(header_of("To: {{email}}\n\nb\n", {"a.b@d.t"}, "To"), "a.b@d.t");
  EXPECT_EQ(header_of("To: {{a}}, {{b}}\n\nb\n", {"x@d.t", "y@d.t"}, "To"), "x@d.t, y@d.t");
  EXPECT_EQ(header_of("X-Campaign-Id: {{id}}\n\nb\n", {"a,b"}, "X-Campaign-Id"), "a,b");
  EXPECT_EQ(header_of("List-Id: {{id}}\n\nb\n", {"Ü <l.x>"}, "List-Id"), "Ü <l.x>");
}

TEST(HeaderValue, SubjectEncodedOnlyWhenNotAscii) {
  const std::string raw = "From: a@x.org\nSubject: News for {{city}}\n\nb\n";
  EXPECT_EQ(header_of(raw, {"Paris, 3e"}, "Subject"), "News for Paris, 3e");
  const std::string koeln = header_of(raw, {"Köln"}, "Subject");
  EXPECT_TRUE(koeln.starts_with("News for =?UTF-8?B?")) << koeln;
  EXPECT_EQ(decoded(koeln), "Köln");
}

TEST(HeaderValue, AnEncodedValueTakesTheTextItTouchesIntoItsWord) {
  // RFC 2047 §5: an encoded-word is a whole word, separated from text by white space.
  const std::string hello =
      header_of("From: a@x.org\nSubject: Hello {{name}}, news from{{city}}!\n\nb\n",
                {"Jürgen", "Köln"}, "Subject");
  EXPECT_TRUE(hello.starts_with("Hello =?UTF-8?B?")) << hello;
  EXPECT_NE(hello.find("?= news =?UTF-8?B?"), std::string::npos) << hello;
  EXPECT_TRUE(hello.ends_with("?=")) << hello;
  EXPECT_EQ(decoded(hello), "Jürgen,fromKöln!");  // the words, without the white space between
  // The same template with ASCII values: the bytes as they were.
  EXPECT_EQ(header_of("From: a@x.org\nSubject: Hello {{name}}, news from{{city}}!\n\nb\n",
                      {"Ann", "Rome"}, "Subject"),
            "Hello Ann, news fromRome!");
  // Two fields in one word: the text between them belongs to the first.
  EXPECT_EQ(decoded(header_of("Subject: {{a}}-{{b}}\n\nb\n", {"é", "è"}, "Subject")), "é-è");
  EXPECT_EQ(header_of("Subject: {{a}}-{{b}}\n\nb\n", {"a", "b"}, "Subject"), "a-b");
}

TEST(HeaderValue, TheLineCheckMeasuresAValueAsTheWordItIsWrittenIn) {
  // An ASCII value touching 8-bit template text is encoded with it: 40 such words are 880 bytes
  // raw but 40 unfolded encoded-words of 44 characters, more than a line may hold.
  std::string line = "X-Tag: ";
  for (int i = 0; i < 40; ++i) line += "{{a}}\xc3\xa9";
  auto t = MessageTemplate::parse(line + "\n\nb\n");
  ASSERT_TRUE(t.ok());
  const std::vector<std::string> values{std::string(20, 'x')};
  auto checked = t->check_values(values);
  ASSERT_FALSE(checked.ok()) << "written, the line would be longer than 998 bytes";
  EXPECT_NE(checked.error().message.find("longer than 998"), std::string::npos)
      << checked.error().message;
  // Five of them fit, and are written as the check measured them.
  std::string few = "X-Tag: ";
  for (int i = 0; i < 5; ++i) few += "{{a}}\xc3\xa9";
  auto f = MessageTemplate::parse(few + "\n\nb\n");
  ASSERT_TRUE(f.ok() && f->check_values(values).ok());
  EXPECT_EQ(decoded(header_of(few + "\n\nb\n", values, "X-Tag")), [] {
    std::string s;
    for (int i = 0; i < 5; ++i) s += std::string(20, 'x') + "\xc3\xa9";
    return s;
  }());
}

TEST(HeaderValue, LongValuesAreFoldedBetweenWordsNeverInsideACharacter) {
  std::string city;
  for (int i = 0; i < 40; ++i) city += "Grüße ";  // 2-byte characters all along
  const std::string subject =
      header_of("From: a@x.org\nSubject: {{city}}\n\nb\n", {city}, "Subject");
  EXPECT_NE(subject.find("?=\r\n =?UTF-8?B?"), std::string::npos) << subject;
  EXPECT_EQ(decoded(subject), city);
  for (std::size_t pos = 0, eol; (eol = subject.find("\r\n", pos)) != std::string::npos;
       pos = eol + 2) {
    EXPECT_LE(eol - pos, 78u);
  }
}

TEST(HeaderValue, TheTemplatesOwn8BitHeaderTextIsWrittenAsEncodedWords) {
  // Subject, and a single mailbox's display name (quoted or not): 7-bit, reading the same.
  const std::string raw =
      "From: \"M\xC3\xBCller, J\xC3\xBCrgen\" <news@x.org>\nTo: B\xC3\xBC"
      "cherei K\xC3\xB6ln <a@y.org>\nSubject: Gr\xC3\xBC\xC3\x9F"
      "e aus K\xC3\xB6ln\nX-Note: caf\xC3\xA9\n\nbody\n";
  const std::string subject = header_of(raw, {}, "Subject");
  EXPECT_TRUE(subject.starts_with("=?UTF-8?B?")) << subject;
  EXPECT_EQ(decoded(subject),
            "Gr\xC3\xBC\xC3\x9F"
            "e aus K\xC3\xB6ln");
  const std::string from = header_of(raw, {}, "From");
  EXPECT_TRUE(from.ends_with("?= <news@x.org>")) << from;
  EXPECT_EQ(decoded(from), "M\xC3\xBCller, J\xC3\xBCrgen");
  const std::string to = header_of(raw, {}, "To");
  EXPECT_EQ(decoded(to),
            "B\xC3\xBC"
            "cherei K\xC3\xB6ln");
  // A field whose structure it does not know goes as written; so does a list of mailboxes.
  EXPECT_EQ(header_of(raw, {}, "X-Note"), "caf\xC3\xA9");
  EXPECT_FALSE(seven_bit_header_field("To: J\xC3\xBCrgen <a@y.org>, Ann <b@y.org>"));
  EXPECT_FALSE(seven_bit_header_field("Subject: plain ASCII"));
  // Between merge fields, the 8-bit words of each stretch of text: the fields stay fields.
  const std::string mixed = header_of(
      "From: a@x.org\nSubject: Gr\xC3\xBC\xC3\x9F"
      "e {{name}}, sch\xC3\xB6n!\n\nb\n",
      {"Ann"}, "Subject");
  EXPECT_TRUE(std::none_of(mixed.begin(), mixed.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x80;
  })) << mixed;
  EXPECT_NE(mixed.find("?= Ann, =?UTF-8?B?"), std::string::npos) << mixed;
  EXPECT_EQ(decoded(mixed),
            "Gr\xC3\xBC\xC3\x9F"
            "esch\xC3\xB6n!");
  // An 8-bit word touching a field cannot be an encoded-word: the field goes as written.
  EXPECT_FALSE(
      seven_bit_header_field("Subject: Gr\xC3\xBC\xC3\x9F"
                             "e{{name}}"));
  // A message submitted whole keeps its bytes (and its own signatures).
  auto kept = MessageTemplate::parse(raw, true, /*keep_identity=*/true);
  ASSERT_TRUE(kept.ok());
  std::string out;
  kept->render(out, {}, "", "");
  EXPECT_NE(out.find("Subject: Gr\xC3\xBC\xC3\x9F"), std::string::npos) << out;
}

TEST(HeaderValue, AnAddressWithAnInternationalizedDomainIsWrittenWithItsALabels) {
  EXPECT_EQ(header_of(kTo,
                      {"Ann",
                       "ann@B\xC3\xBC"
                       "cher.test"},
                      "To"),
            "Ann <ann@xn--bcher-kva.test>");
  // A UTF-8 local part needs SMTPUTF8 anyway: the address goes as given.
  EXPECT_EQ(header_of(kTo,
                      {"Ann",
                       "j\xC3\xBCrgen@b\xC3\xBC"
                       "cher.test"},
                      "To"),
            "Ann <j\xC3\xBCrgen@b\xC3\xBC"
            "cher.test>");
  EXPECT_EQ(header_of("From: a@x.org\nTo: {{email}}\nSubject: s\n\nb\n",
                      {"ann@b\xC3\xBC"
                       "cher.test"},
                      "To"),
            "ann@xn--bcher-kva.test");
}

}  // namespace
}  // namespace ringmta::message
