// NetworkList: CIDR parsing and matching, IPv4-mapped IPv6 clients.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "submission/networks.h"

namespace ringmta::submission {
namespace {

sockaddr_storage v4(const char* text) {
  sockaddr_storage s{};
  auto* a = reinterpret_cast<sockaddr_in*>(&s);
  a->sin_family = AF_INET;
  inet_pton(AF_INET, text, &a->sin_addr);
  return s;
}

sockaddr_storage v6(const char* text) {
  sockaddr_storage s{};
  auto* a = reinterpret_cast<sockaddr_in6*>(&s);
  a->sin6_family = AF_INET6;
  inet_pton(AF_INET6, text, &a->sin6_addr);
  return s;
}

TEST(NetworkList, MatchesPrefixes) {
  auto list = NetworkList::parse("10.0.0.0/8, 192.168.1.128/25,2001:db8::/33,127.0.0.1");
  ASSERT_TRUE(list) << list.error().message;
  EXPECT_EQ(list->str(), "10.0.0.0/8, 192.168.1.128/25, 2001:db8::/33, 127.0.0.1/32");
  EXPECT_TRUE(list->contains(v4("10.200.3.4")));
  EXPECT_FALSE(list->contains(v4("11.0.0.1")));
  EXPECT_TRUE(list->contains(v4("192.168.1.200")));
  EXPECT_FALSE(list->contains(v4("192.168.1.127")));
  EXPECT_TRUE(list->contains(v4("127.0.0.1")));
  EXPECT_FALSE(list->contains(v4("127.0.0.2")));
  EXPECT_TRUE(list->contains(v6("2001:db8:7fff::1")));
  EXPECT_FALSE(list->contains(v6("2001:db8:8000::1")));
  EXPECT_TRUE(list->contains(v6("::ffff:10.1.2.3")));  // an IPv4 client on a dual-stack socket
  EXPECT_EQ(address_text(v6("::ffff:10.1.2.3")), "10.1.2.3");
}

TEST(NetworkList, EmptyMatchesNothingAndErrorsNameTheBlock) {
  auto none = NetworkList::parse("");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->contains(v4("127.0.0.1")));
  auto bad = NetworkList::parse("10.0.0.0/8,example.com");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "relay network 'example.com': not an IP address");
  EXPECT_FALSE(NetworkList::parse("10.0.0.0/33"));
  EXPECT_FALSE(NetworkList::parse("::/129"));
  EXPECT_FALSE(NetworkList::parse("10.0.0.0/"));
}

}  // namespace
}  // namespace ringmta::submission
