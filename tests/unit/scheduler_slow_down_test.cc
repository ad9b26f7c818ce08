// is_slow_down / is_connection_refused over a corpus of real replies: provider rate limits and
// 421s are slow-downs; greylisting, mailbox full, too many recipients, hard bounces and ringmta's
// own replies are not.
#include <gtest/gtest.h>

#include "protocol/smtp_reply.h"
#include "scheduler/slow_down.h"

namespace ringmta::scheduler {
namespace {

protocol::Reply parse(const std::string& wire) {
  protocol::ReplyParser p;
  EXPECT_TRUE(p.feed(wire + "\r\n")) << wire;
  auto r = p.next();
  EXPECT_TRUE(r.has_value()) << wire;
  return r.value_or(protocol::Reply{});
}

TEST(SlowDown, ProviderPushbackIsSlowDown) {
  for (const char* wire : {
           "421 4.7.0 Try again later, closing connection.",
           "421-4.7.28 Our system has detected an unusual rate of unsolicited mail originating\r\n"
           "421 4.7.28 from your IP address. To protect our users from spam, mail sent from ...",
           "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected "
           "volume or user complaints",
           "451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP "
           "reputation.",
           "451 4.7.500 Server busy. Please try again later from [192.0.2.1].",
           "450 4.2.1 The user you are trying to contact is receiving mail at a rate that "
           "prevents additional messages from being delivered.",
           "421 Too many concurrent SMTP connections; please try again later.",
           "452 4.3.2 Too many connections from your host",
           "451 Throttled: you are sending too fast",
           "450 4.4.5 System congestion, try again",
           "421 4.3.2 Service shutting down",
           "550 5.7.1 Daily sending quota exceeded",
           "554 5.7.1 Rate limit exceeded, slow down",
       }) {
    EXPECT_TRUE(is_slow_down(parse(wire))) << wire;
  }
}

TEST(SlowDown, OtherRepliesAreNot) {
  for (const char* wire : {
           "250 2.0.0 OK queued",
           "220 mx.example.com ESMTP",
           "450 4.7.1 <x@y>: Recipient address rejected: Greylisted, try again later",
           "451 4.7.1 Please try again later (greylisting)",
           "452 4.2.2 The email account that you tried to reach is over quota.",
           "452 4.5.3 Error: too many recipients",
           "550 5.1.1 <a@example.com>: Recipient address rejected: User unknown",
           "421 4.4.2 mx.example.com Error: timeout exceeded",
           "451 4.3.0 Temporary lookup failure",
           "552 5.2.2 Mailbox full: too many messages on the server",
           "554 5.7.1 <x@y.org>: Relay access denied",
       }) {
    EXPECT_FALSE(is_slow_down(parse(wire))) << wire;
  }
}

TEST(SlowDown, LocalRepliesAreNeverSlowDownButRefusalsAreRecognised) {
  auto refused =
      protocol::Reply::make_local(451, "4.4.1", "connect to 192.0.2.1:25: Connection refused");
  EXPECT_FALSE(is_slow_down(refused));
  EXPECT_TRUE(is_connection_refused(refused));
  auto lost = protocol::Reply::make_local(421, "4.4.2", "connection lost after DATA");
  EXPECT_FALSE(is_slow_down(lost));
  EXPECT_FALSE(is_connection_refused(lost));
  // A server saying "connection refused" is not ringmta's connect failure.
  EXPECT_FALSE(is_connection_refused(parse("554 5.7.1 connection refused by policy")));
}

}  // namespace
}  // namespace ringmta::scheduler
