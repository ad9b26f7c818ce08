// Unit tests for protocol::parse_ehlo and the SASL helpers (PLAIN, CRAM-MD5 RFC 2195
// vector). Pure functions; no I/O.
#include <gtest/gtest.h>

#include "protocol/ehlo.h"
#include "protocol/sasl.h"
#include "util/base64.h"

namespace ringmta::protocol {
namespace {

Reply ehlo(std::vector<std::string> lines) {
  Reply r;
  r.code = 250;
  r.lines = std::move(lines);
  return r;
}

TEST(Ehlo, Keywords) {
  Capabilities c = parse_ehlo(
      ehlo({"mx.example.com Hello", "PIPELINING", "SIZE 10240000", "STARTTLS", "8BITMIME",
            "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING", "AUTH PLAIN LOGIN"}));
  EXPECT_TRUE(c.esmtp);
  EXPECT_TRUE(c.pipelining);
  EXPECT_TRUE(c.size);
  EXPECT_EQ(c.size_limit, 10240000u);
  EXPECT_TRUE(c.starttls);
  EXPECT_TRUE(c.eight_bit_mime);
  EXPECT_TRUE(c.enhanced_status_codes);
  EXPECT_TRUE(c.smtputf8);
  EXPECT_TRUE(c.chunking);
  EXPECT_EQ(c.auth_mechanisms, (std::vector<std::string>{"PLAIN", "LOGIN"}));
  EXPECT_TRUE(c.offers_auth("plain"));
  EXPECT_FALSE(c.offers_auth("CRAM-MD5"));
}

TEST(Ehlo, CaseInsensitiveAndOldAuthSyntax) {
  Capabilities c = parse_ehlo(
      ehlo({"hi", "pipelining", "starttls", "auth=login plain", "Auth cram-md5 PLAIN", "size"}));
  EXPECT_TRUE(c.pipelining);
  EXPECT_TRUE(c.starttls);
  EXPECT_EQ(c.auth_mechanisms, (std::vector<std::string>{"LOGIN", "PLAIN", "CRAM-MD5"}));
  EXPECT_TRUE(c.size);
  EXPECT_EQ(c.size_limit, 0u);
}

TEST(Ehlo, FirstLineIsNotAKeyword) {
  Capabilities c = parse_ehlo(ehlo({"PIPELINING"}));
  EXPECT_FALSE(c.pipelining);
}

TEST(Ehlo, OddInputIsIgnored) {
  Capabilities c = parse_ehlo(
      ehlo({"hi", "", "   ", "SIZE 99999999999999999999999", "SIZE x1",
            "AUTH bad/mech ALSO-GOOD_1 " + std::string(30, 'A'), "PIPELININGX", "\tSTARTTLS"}));
  EXPECT_EQ(c.size_limit, 0u);
  EXPECT_EQ(c.auth_mechanisms, std::vector<std::string>{"ALSO-GOOD_1"});
  EXPECT_FALSE(c.pipelining);
  EXPECT_TRUE(c.starttls);
}

TEST(Ehlo, MechanismListIsCapped) {
  std::string line = "AUTH";
  for (int i = 0; i < 100; ++i) line += " M" + std::to_string(i);
  Capabilities c = parse_ehlo(ehlo({"hi", line}));
  EXPECT_LE(c.auth_mechanisms.size(), 32u);
}

TEST(Sasl, Plain) {
  // "\0tim\0tanstaaftanstaaf"
  EXPECT_EQ(sasl_plain_response("tim", "tanstaaftanstaaf"), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
}

TEST(Sasl, CramMd5Rfc2195Vector) {
  auto r = cram_md5_response("tim", "tanstaaftanstaaf",
                             base64_encode("<1896.697170952@postoffice.reston.mci.net>"));
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
  EXPECT_FALSE(cram_md5_response("tim", "x", "not base64!"));
}

}  // namespace
}  // namespace ringmta::protocol
