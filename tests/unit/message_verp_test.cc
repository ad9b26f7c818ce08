// VERP addresses: encoding, decoding back (also recipients with '=', '+' and '-' in their local
// part), and what is refused (a sender with '+', addresses that are not ours).
#include <gtest/gtest.h>

#include "message/verp.h"

namespace ringmta::message {
namespace {

TEST(Verp, EncodesAndDecodesBack) {
  auto v = verp_encode("news@sender.test", 42, "alice@example.org");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, "news+m42-alice=example.org@sender.test");
  auto back = verp_decode(*v);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->sender, "news@sender.test");
  EXPECT_EQ(back->message_id, 42u);
  EXPECT_EQ(back->recipient, "alice@example.org");
}

TEST(Verp, AwkwardRecipientLocalPartsSurvive) {
  for (const char* r : {"a=b@x.org", "a+b-c@x.org", "m1-x@x.org", "=@x.org"}) {
    auto v = verp_encode("bounce@s.test", 7, r);
    ASSERT_TRUE(v) << r;
    auto back = verp_decode(*v);
    ASSERT_TRUE(back) << *v;
    EXPECT_EQ(back->recipient, r);
    EXPECT_EQ(back->message_id, 7u);
  }
}

TEST(Verp, RefusedAndForeignAddresses) {
  EXPECT_TRUE(verp_capable("news@sender.test"));
  EXPECT_FALSE(verp_capable("news+x@sender.test"));
  EXPECT_FALSE(verp_capable("@sender.test"));
  EXPECT_FALSE(verp_encode("news+x@sender.test", 1, "a@b.org"));  // ambiguous
  EXPECT_FALSE(verp_encode("nosign", 1, "a@b.org"));
  EXPECT_FALSE(verp_decode("news@sender.test"));
  EXPECT_FALSE(verp_decode("news+tag@sender.test"));
  EXPECT_FALSE(verp_decode("news+m-a=b@sender.test"));
  EXPECT_FALSE(verp_decode("news+m12a=b@sender.test"));
  EXPECT_FALSE(verp_decode("news+m12-ab@sender.test"));  // no '='
  EXPECT_FALSE(verp_decode("news+m12-a=@sender.test"));
  EXPECT_FALSE(verp_decode("news+m99999999999999999999-a=b@s.test"));  // overflows
  auto upper = verp_decode("News+M5-Bob=Example.ORG@Sender.test");
  ASSERT_TRUE(upper);
  EXPECT_EQ(upper->recipient, "Bob@Example.ORG");
}

}  // namespace
}  // namespace ringmta::message
