// Unit tests for deliverability/organizational_domain.h and the assessment's use of it: the
// organizational domain from the public suffix list (a multi-label suffix such as co.uk, a name
// the list does not know), relaxed alignment, and the port 25 verdict from probe outcomes.
#include <gtest/gtest.h>

#include "deliverability/assessment.h"
#include "deliverability/organizational_domain.h"

namespace ringmta::deliverability {
namespace {

TEST(OrganizationalDomain, FollowsThePublicSuffixList) {
  EXPECT_EQ(organizational_domain("news.example.org"), "example.org");
  EXPECT_EQ(organizational_domain("example.org"), "example.org");
  EXPECT_EQ(organizational_domain("a.b.Shop.CO.UK"), "shop.co.uk");
  EXPECT_EQ(organizational_domain("co.uk"), "co.uk");  // a suffix is its own
  EXPECT_EQ(organizational_domain("mail.example.test"), "example.test");
}

TEST(OrganizationalDomain, RelaxedAlignment) {
  EXPECT_TRUE(relaxed_aligned("news.example.org", "example.org"));
  EXPECT_TRUE(relaxed_aligned("news.example.org", "bounce.example.org"));  // siblings align
  EXPECT_FALSE(relaxed_aligned("shop.co.uk", "other.co.uk"));  // the naive parent rule said yes
  EXPECT_FALSE(relaxed_aligned("example.org", "example.net"));
}

Finding port25_of(std::vector<Facts::GreetingTry> tries) {
  Facts f;
  f.from_domain = f.sender_domain = "example.org";
  f.port25 = std::move(tries);
  for (Finding& x : assess(f)) {
    if (x.check == "port25") return x;
  }
  ADD_FAILURE() << "no port25 finding";
  return {};
}

TEST(Port25, OneGreetingIsEnoughNoneIsAProblemNoCandidateIsNotChecked) {
  Finding open = port25_of({{"gmail.com", "mx1 (192.0.2.1:25)", true, false, "connection refused"},
                            {"yahoo.com", "mx2 (192.0.2.2:25)", true, true, "220 mx2 ESMTP"}});
  EXPECT_TRUE(open.ok) << open.words;
  EXPECT_NE(open.words.find("220 mx2 ESMTP"), std::string::npos) << open.words;

  Finding blocked =
      port25_of({{"gmail.com", "mx1 (192.0.2.1:25)", true, false, "no greeting within 5 s"}});
  EXPECT_FALSE(blocked.ok);
  EXPECT_NE(blocked.words.find("mx1 (192.0.2.1:25): no greeting within 5 s"), std::string::npos);
  EXPECT_NE(blocked.words.find("--smarthost"), std::string::npos) << blocked.words;

  Finding unknown = port25_of({{"gmail.com", "gmail.com", false, false, "no MX host"}});
  EXPECT_TRUE(unknown.ok);
  EXPECT_NE(unknown.words.find("not checked"), std::string::npos) << unknown.words;

  Facts none;
  none.from_domain = none.sender_domain = "example.org";
  for (const Finding& x : assess(none)) EXPECT_NE(x.check, "port25");
}

}  // namespace
}  // namespace ringmta::deliverability
