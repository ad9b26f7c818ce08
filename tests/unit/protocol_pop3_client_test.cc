// Pop3LoginClient fed server bytes: success, refused password, garbage, lost connection.
#include <gtest/gtest.h>

#include "protocol/pop3_client.h"

namespace ringmta::protocol {
namespace {

TEST(Pop3Login, SucceedsAfterUserPassQuit) {
  Pop3LoginClient c("alice", "secret");
  c.on_received("+OK Dovecot ready.\r\n");
  EXPECT_EQ(c.take_output(), "USER alice\r\n");
  c.on_received("+OK\r\n");
  EXPECT_EQ(c.take_output(), "PASS secret\r\n");
  c.on_received("+OK Logged in.\r\n");
  EXPECT_EQ(c.take_output(), "QUIT\r\n");
  EXPECT_FALSE(c.done());
  c.on_received("+OK Logging out.\r\n");
  ASSERT_TRUE(c.done());
  EXPECT_EQ(*c.result(), "");
}

TEST(Pop3Login, RepliesSplitAcrossReads) {
  Pop3LoginClient c("alice", "secret");
  c.on_received("+O");
  EXPECT_EQ(c.take_output(), "");
  c.on_received("K hi\r\n+OK\r\n");  // greeting and the USER reply in one read
  EXPECT_EQ(c.take_output(), "USER alice\r\nPASS secret\r\n");
}

TEST(Pop3Login, WrongPasswordIsReportedWithoutThePassword) {
  Pop3LoginClient c("alice", "hunter2");
  c.on_received("+OK ready\r\n+OK\r\n-ERR [AUTH] Authentication failed.\r\n");
  ASSERT_TRUE(c.done());
  EXPECT_NE(c.result()->find("Authentication failed"), std::string::npos);
  EXPECT_EQ(c.result()->find("hunter2"), std::string::npos);
}

TEST(Pop3Login, GarbageAndLostConnectionFail) {
  Pop3LoginClient a("u", "p");
  a.on_received("220 this is SMTP\r\n");
  ASSERT_TRUE(a.done());
  EXPECT_NE(*a.result(), "");
  Pop3LoginClient b("u", "p");
  b.on_received("+OK\r\n");
  b.on_connection_lost("reset");
  ASSERT_TRUE(b.done());
  EXPECT_NE(b.result()->find("lost"), std::string::npos);
}

TEST(Pop3Login, LostAfterPassStillCounts) {
  Pop3LoginClient c("u", "p");
  c.on_received("+OK\r\n+OK\r\n+OK\r\n");
  c.on_connection_lost("closed");
  ASSERT_TRUE(c.done());
  EXPECT_EQ(*c.result(), "");
}

TEST(Pop3Login, EndlessLineIsBounded) {
  Pop3LoginClient c("u", "p");
  c.on_received(std::string(5000, 'x'));
  ASSERT_TRUE(c.done());
}

}  // namespace
}  // namespace ringmta::protocol
