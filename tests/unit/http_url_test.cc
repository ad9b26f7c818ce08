// percent_decode and query_param: encodings a client sends for an address in a path or query.
#include <gtest/gtest.h>

#include "http/url.h"

namespace ringmta::http {
namespace {

TEST(PercentDecode, DecodesAndRefusesBrokenEscapes) {
  EXPECT_EQ(percent_decode("gone%40four.test"), "gone@four.test");
  EXPECT_EQ(percent_decode("a%2Bb+c"), "a+b+c");
  EXPECT_EQ(percent_decode("a%2Bb+c", true), "a+b c");
  EXPECT_EQ(percent_decode("%e2%82%AC"), "\xe2\x82\xac");
  EXPECT_EQ(percent_decode("50%"), std::nullopt);
  EXPECT_EQ(percent_decode("50%4"), std::nullopt);
  EXPECT_EQ(percent_decode("%zz"), std::nullopt);
}

TEST(PercentEncode, EscapesAllButTheUnreservedAndDecodesBack) {
  EXPECT_EQ(percent_encode("a+b@x.org"), "a%2Bb%40x.org");
  EXPECT_EQ(percent_encode("spring 2027/é"), "spring%202027%2F%C3%A9");
  EXPECT_EQ(percent_encode("A-z_0.9~"), "A-z_0.9~");
  for (const std::string& text :
       {std::string("a+b@x.org"), std::string("100% sure?&="), std::string("\0\xff", 2)}) {
    EXPECT_EQ(percent_decode(percent_encode(text)), text);
  }
}

TEST(QueryParam, FindsTheFirstByNameDecoded) {
  EXPECT_EQ(query_param("/s?address=a%40b.test&limit=5", "address"), "a@b.test");
  EXPECT_EQ(query_param("/s?address=a%40b.test&limit=5", "limit"), "5");
  EXPECT_EQ(query_param("/s?limit=5&limit=6", "limit"), "5");
  EXPECT_EQ(query_param("/s?flag&x=", "flag"), "");
  EXPECT_EQ(query_param("/s?flag&x=", "x"), "");
  EXPECT_EQ(query_param("/s?addresses=1", "address"), std::nullopt);
  EXPECT_EQ(query_param("/s", "address"), std::nullopt);
  EXPECT_EQ(query_param("/s?address=%", "address"), std::nullopt);
}

}  // namespace
}  // namespace ringmta::http
