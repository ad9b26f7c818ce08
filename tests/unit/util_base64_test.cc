// Unit tests for util/base64: RFC 4648 §10 vectors, optional padding, refusals, every byte value.
#include <gtest/gtest.h>

#include "util/base64.h"

namespace ringmta {
namespace {

TEST(Base64, RoundTripsAndVectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(base64_decode("Zm9vYmE"), "fooba");  // padding optional
  EXPECT_EQ(base64_decode(""), "");
  EXPECT_FALSE(base64_decode("Zm9v!"));
  EXPECT_FALSE(base64_decode("Z"));
  EXPECT_FALSE(base64_decode("Zg=a"));
  EXPECT_FALSE(base64_decode("Zm9=="));
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(base64_decode(base64_encode(all)), all);
}

TEST(Base64, UrlAlphabetWithoutPadding) {
  EXPECT_EQ(base64_encode("\xfb\xff", Base64::kUrl), "-_8");
  EXPECT_EQ(base64_encode("\xfb\xff"), "+/8=");
  EXPECT_EQ(base64_encode("f", Base64::kUrl), "Zg");
  EXPECT_EQ(base64_decode("-_8", Base64::kUrl), "\xfb\xff");
  EXPECT_FALSE(base64_decode("+/8", Base64::kUrl));
  EXPECT_FALSE(base64_decode("Zg==", Base64::kUrl));
  EXPECT_FALSE(base64_decode("-_8="));
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(base64_decode(base64_encode(all, Base64::kUrl), Base64::kUrl), all);
}

}  // namespace
}  // namespace ringmta
