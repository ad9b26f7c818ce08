// Unit tests for dkim/canonicalization: RFC 6376 §3.4.5's examples, the RFC 8463 Appendix A body
// hash, and the header split a signer starts from. No I/O.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "dkim/canonicalization.h"
#include "util/base64.h"

namespace ringmta::dkim {
namespace {

std::string body(std::string_view text, Canon canon) {
  std::string out;
  append_canonical_body(out, text, canon);
  return out;
}

std::string field(std::string_view text, Canon canon) {
  const std::string message = std::string(text) + "\r\n";
  SplitMessage split = split_message(message);
  EXPECT_EQ(split.fields.size(), 1u);
  std::string out;
  append_canonical_field(out, split.fields.at(0), canon);
  return out;
}

std::string sha256_base64(std::string_view data) {
  unsigned char digest[32];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return base64_encode(std::string_view(reinterpret_cast<char*>(digest), length));
}

TEST(Canonicalization, Rfc6376Section345Example) {
  // "A: <SP> X <CRLF> B <SP> : <SP> Y <HTAB><CRLF> <HTAB> Z <SP><SP><CRLF>" and its body.
  const std::string message = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
  SplitMessage split = split_message(message);
  ASSERT_EQ(split.fields.size(), 2u);
  std::string relaxed;
  for (const HeaderField& f : split.fields) append_canonical_field(relaxed, f, Canon::kRelaxed);
  EXPECT_EQ(relaxed, "a:X\r\nb:Y Z\r\n");
  EXPECT_EQ(body(split.body, Canon::kRelaxed), " C\r\nD E\r\n");
  std::string simple;
  for (const HeaderField& f : split.fields) append_canonical_field(simple, f, Canon::kSimple);
  EXPECT_EQ(simple, "A: X\r\nB : Y\t\r\n\tZ  \r\n");
  EXPECT_EQ(body(split.body, Canon::kSimple), " C \r\nD \t E\r\n");
}

TEST(Canonicalization, EmptyBodies) {
  EXPECT_EQ(body("", Canon::kSimple), "\r\n");
  EXPECT_EQ(body("\r\n\r\n", Canon::kSimple), "\r\n");
  EXPECT_EQ(body("", Canon::kRelaxed), "");
  EXPECT_EQ(body(" \r\n\t\r\n", Canon::kRelaxed), "");
  EXPECT_EQ(body(" \r\n\t\r\n", Canon::kSimple), " \r\n\t\r\n");  // not empty lines to simple
}

TEST(Canonicalization, TrailingLinesAndMissingFinalCrlf) {
  EXPECT_EQ(body("a\r\n\r\nb\r\n\r\n\r\n", Canon::kSimple), "a\r\n\r\nb\r\n");
  EXPECT_EQ(body("a\r\nb", Canon::kSimple), "a\r\nb\r\n");
  EXPECT_EQ(body("a  \r\n \r\nb\t\r\n", Canon::kRelaxed), "a\r\n\r\nb\r\n");
  EXPECT_EQ(body("a\rb\r\n", Canon::kRelaxed), "a\rb\r\n");  // a bare CR is content
}

TEST(Canonicalization, Rfc8463BodyHash) {
  // RFC 8463 Appendix A.3 (and RFC 6376 Appendix A):
  // bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=
  const std::string text = "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";
  EXPECT_EQ(sha256_base64(body(text, Canon::kRelaxed)),
            "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
  EXPECT_EQ(
      sha256_base64(body("Hi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n\r\nJoe.\r\n\r\n",
                         Canon::kSimple)),
      "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
}

TEST(Canonicalization, RelaxedFieldFoldsCaseAndWhiteSpace) {
  EXPECT_EQ(field("SUBJECT:   Hello \t  World  ", Canon::kRelaxed), "subject:Hello World\r\n");
  EXPECT_EQ(field("To: a@example.org,\r\n   b@example.org", Canon::kRelaxed),
            "to:a@example.org, b@example.org\r\n");
  EXPECT_EQ(field("X-Empty:", Canon::kRelaxed), "x-empty:\r\n");
  std::string out;
  append_relaxed_field(out, "DKIM-Signature", " v=1; a=rsa-sha256;\r\n\tb=");
  EXPECT_EQ(out, "dkim-signature:v=1; a=rsa-sha256; b=");
}

TEST(Split, FieldsContinuationsAndBody) {
  SplitMessage s = split_message("From: a@x\r\nTo: b@y,\r\n c@z\r\nSubject : hi\r\n\r\nbody\r\n");
  ASSERT_EQ(s.fields.size(), 3u);
  EXPECT_EQ(s.fields[1].name, "To");
  EXPECT_EQ(s.fields[1].text, "To: b@y,\r\n c@z\r\n");
  EXPECT_EQ(s.fields[2].name, "Subject");
  EXPECT_EQ(s.body, "body\r\n");
  // No empty line: no body. A line that is no field ends the header section there.
  EXPECT_EQ(split_message("From: a@x\r\n").body, "");
  SplitMessage odd = split_message("From: a@x\r\nnot a field\r\nrest\r\n");
  EXPECT_EQ(odd.fields.size(), 1u);
  EXPECT_EQ(odd.body, "not a field\r\nrest\r\n");
}

}  // namespace
}  // namespace ringmta::dkim
