// Tests for message::parse_address: what an envelope address may and may not be.
// They may not use DNS or the network.
#include <gtest/gtest.h>

#include <string>

#include "message/address.h"

using ringmta::message::parse_address;

namespace {

std::string ok(std::string_view in) {
  auto r = parse_address(in);
  EXPECT_TRUE(r.ok()) << in << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? r->str() : std::string();
}

void bad(std::string_view in) {
  auto r = parse_address(in);
  EXPECT_FALSE(r.ok()) << "accepted: " << in;
}

TEST(Address, ValidDotAtom) {
  EXPECT_EQ(ok("user@example.com"), "user@example.com");
  EXPECT_EQ(ok("First.Last+tag@Sub.Example.COM"), "First.Last+tag@sub.example.com");
  EXPECT_EQ(ok("  <a!#$%&'*+-/=?^_`{|}~@x-y.example>  "), "a!#$%&'*+-/=?^_`{|}~@x-y.example");
  auto r = parse_address("Bob@EXAMPLE.org");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->local, "Bob");
  EXPECT_EQ(r->domain, "example.org");
}

TEST(Address, QuotedLocalPart) {
  EXPECT_EQ(ok("\"john smith\"@example.com"), "\"john smith\"@example.com");
  EXPECT_EQ(ok("\"a@b\"@example.com"), "\"a@b\"@example.com");
  EXPECT_EQ(ok("\"esc\\\"aped\"@example.com"), "\"esc\\\"aped\"@example.com");
  bad("\"unterminated@example.com");
  bad("\"a\"b@example.com");
  bad("\"\"@example.com");
  bad("\"tab\there\"@example.com");
}

TEST(Address, BadLocalParts) {
  bad("@example.com");
  bad(".a@example.com");
  bad("a.@example.com");
  bad("a..b@example.com");
  bad("a b@example.com");
  bad("a<b@example.com");
  bad("a>b@example.com");
  bad("\"a<b\"@example.com");
  bad("\"a>b\"@example.com");
  bad("a,b@example.com");
  bad("a(b)@example.com");
  bad("");
  bad("   ");
  bad("<>");
  bad("<a@example.com");
  bad("a@example.com>");
  bad("<<a@example.com>>");
}

TEST(Address, NoOrBadDomain) {
  bad("user");
  bad("user@");
  bad("user@localhost");  // dotless domains are not deliverable on the Internet
  bad("user@.example.com");
  bad("user@example.com.");
  bad("user@exa..mple.com");
  bad("user@-example.com");
  bad("user@example-.com");
  bad("user@exa_mple.com");
  bad("user@exa mple.com");
  bad("a@b@example.com");
}

TEST(Address, ControlBytesRefused) {
  bad("user@example.com\r\nRCPT TO:<evil@x.com>");
  bad("user\r@example.com");
  bad("user@example.com\n");
  bad(std::string("user\0@example.com", 17));
  bad("user\x01@example.com");
  bad("\"a\rb\"@example.com");
  bad("us\xC2\x85r@example.com");  // U+0085, a C1 control, is no address character in UTF-8 either
}

TEST(Address, InternationalizedAddresses) {
  // A UTF-8 local part (RFC 6531) is kept as it is and needs SMTPUTF8; U-labels become A-labels
  // (IDNA2008 with the UTS #46 mapping), so the domain is what DNS and the queue's grouping use.
  auto r = parse_address(
      "J\xC3\xBCrgen@B\xC3\xBC"
      "cher.example");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->local, "J\xC3\xBCrgen");
  EXPECT_EQ(r->domain, "xn--bcher-kva.example");
  EXPECT_TRUE(r->needs_smtputf8());
  auto ascii_local = parse_address(
      "info@b\xC3\xBC"
      "cher.example");
  ASSERT_TRUE(ascii_local.ok());
  EXPECT_EQ(ascii_local->str(), "info@xn--bcher-kva.example");
  EXPECT_FALSE(ascii_local->needs_smtputf8()) << "an ASCII local part: an ordinary address";
  EXPECT_EQ(ok("\"J\xC3\xBCrgen M\"@example.com"), "\"J\xC3\xBCrgen M\"@example.com");
  EXPECT_EQ(ok("\xE7\x94\xA8\xE6\x88\xB7@\xE4\xBE\x8B\xE5\xAD\x90.\xE6\xB5\x8B\xE8\xAF\x95"),
            "\xE7\x94\xA8\xE6\x88\xB7@xn--fsqu00a.xn--0zwm56d");
  bad("us\xC3r@example.com");           // a lead byte without its continuation
  bad("us\xC0\xAFr@example.com");       // an overlong '/'
  bad("us\xED\xA0\x80r@example.com");   // a surrogate
  bad("user@snow\xE2\x98\x83man.com");  // a symbol IDNA2008 disallows
  bad(std::string(33, '\xC3').append("x@example.com"));
}

TEST(Address, Limits) {
  const std::string l64(64, 'a');
  EXPECT_EQ(ok(l64 + "@example.com"), l64 + "@example.com");
  bad(l64 + "a@example.com");
  const std::string label63(63, 'b');
  ok("x@" + label63 + ".com");
  bad("x@" + label63 + "b.com");
  // 254 total is fine, 255 is not.
  std::string domain = label63 + "." + label63 + "." + label63 + ".";  // 192
  std::string d1 = domain + std::string(61 - 1, 'c');                  // 252
  ASSERT_EQ(d1.size(), 252u);
  ok("x@" + d1.substr(0, 251));                  // 1 + 1 + 251 = 253
  EXPECT_TRUE(parse_address("x@" + d1).ok());    // 254
  EXPECT_FALSE(parse_address("xy@" + d1).ok());  // 255
  EXPECT_FALSE(parse_address("x@" + std::string(300, 'a') + ".com").ok());
}

TEST(Address, IpLiterals) {
  EXPECT_EQ(ok("user@[192.0.2.1]"), "user@[192.0.2.1]");
  EXPECT_EQ(ok("user@[IPv6:2001:DB8::1]"), "user@[IPv6:2001:db8::1]");
  EXPECT_EQ(ok("user@[ipv6:::1]"), "user@[IPv6:::1]");
  bad("user@[192.0.2.256]");
  bad("user@[192.0.2]");
  bad("user@[IPv6:zz::1]");
  bad("user@[192.0.2.1");
  bad("user@[]");
  bad("user@[example.com]");
}

}  // namespace
