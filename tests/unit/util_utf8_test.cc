// is_valid_utf8: RFC 3629's well-formed sequences only.
#include <gtest/gtest.h>

#include <string>

#include "util/utf8.h"

namespace ringmta {
namespace {

TEST(Utf8, WellFormedSequencesOnly) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ASCII"));
  EXPECT_TRUE(is_valid_utf8("J\xC3\xBCrgen \xE2\x82\xAC \xF0\x9F\x93\xA7 \xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(is_valid_utf8("\xC3"));              // cut short
  EXPECT_FALSE(is_valid_utf8("\xC3\x28"));          // not a continuation
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));      // overlong, three bytes
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // a surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xFF"));
  EXPECT_FALSE(is_valid_utf8("\x80"));  // a continuation without a lead
  EXPECT_FALSE(is_valid_utf8(std::string("ok\xE2\x82", 4)));
}

}  // namespace
}  // namespace ringmta
