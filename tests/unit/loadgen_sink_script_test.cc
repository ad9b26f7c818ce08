// SinkScript parsing and the scripted SmtpServerSession: shares of 4xx/5xx at RCPT and after the
// dot, 421 after N messages, delays handed to the driver, and never answering. No sockets.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loadgen/sink_script.h"
#include "loadgen/smtp_server.h"

namespace ringmta::loadgen {
namespace {

SinkScript parse_ok(std::vector<std::string> specs) {
  auto s = SinkScript::parse(specs);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return s.ok() ? std::move(s.value()) : SinkScript();
}

TEST(SinkScript, ParsesEveryKey) {
  SinkScript s = parse_ok({"Grey.Test:rcpt-4xx=30,rcpt-5xx=2.5,data-4xx=1,data-5xx=0.5",
                           "busy.test:421-after=10,delay-ms=200", "hole.test:never-answer"});
  const DomainScript* g = s.find("grey.test");
  ASSERT_NE(g, nullptr);
  EXPECT_DOUBLE_EQ(g->rcpt_4xx, 30);
  EXPECT_DOUBLE_EQ(g->rcpt_5xx, 2.5);
  EXPECT_DOUBLE_EQ(g->data_4xx, 1);
  EXPECT_DOUBLE_EQ(g->data_5xx, 0.5);
  EXPECT_EQ(s.find("GREY.TEST"), g);
  EXPECT_EQ(s.find("busy.test")->close_after, 10u);
  EXPECT_EQ(s.find("busy.test")->delay_ms, 200u);
  EXPECT_TRUE(s.find("hole.test")->never_answer);
  EXPECT_EQ(s.find("other.test"), nullptr);
}

TEST(SinkScript, EightBitDomainsMatchThemselves) {
  // Found by fuzz_protocol_sink_script: a byte >= 0x80 in the domain never matched.
  SinkScript s =
      parse_ok({"hole.\xf4"
                "est:never-answer",
                "*:data-5xx=1"});
  EXPECT_TRUE(s.find("hole.\xf4"
                     "est")
                  ->never_answer);
}

TEST(SinkScript, WildcardCoversTheRest) {
  SinkScript s = parse_ok({"*:rcpt-5xx=1", "exact.test:delay-ms=5"});
  EXPECT_EQ(s.find("exact.test")->delay_ms, 5u);
  EXPECT_EQ(s.find("any.test")->domain, "*");
}

TEST(SinkScript, ErrorsNameTheSpecAndKey) {
  for (const char* bad : {"nodomain", ":rcpt-4xx=1", "a.test:", "a.test:rcpt-4xx=101",
                          "a.test:rcpt-4xx=x", "a.test:421-after=0", "a.test:never-answer=1",
                          "a.test:bogus=1", "a.test:rcpt-4xx=60,rcpt-5xx=50"}) {
    std::vector<std::string> specs{bad};
    auto s = SinkScript::parse(specs);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.error().message.find(bad), std::string::npos) << s.error().message;
  }
  std::vector<std::string> twice{"a.test:delay-ms=1", "A.test:delay-ms=2"};
  EXPECT_FALSE(SinkScript::parse(twice).ok());
}

struct Session {
  explicit Session(const SinkScript& script, uint64_t id = 7)
      : s(ServerConfig{.hostname = "sink.test", .session_id = id, .script = &script}) {
    s.clear_output();
    s.feed("EHLO c.test\r\n");
    s.clear_output();
  }
  std::string send(std::string_view in) {
    s.feed(in);
    std::string out(s.output());
    s.clear_output();
    return out;
  }
  // One whole transaction; returns the RCPT reply line's code and the final one (0 if none).
  std::pair<int, int> message(const std::string& rcpt) {
    std::string r = send("MAIL FROM:<a@b.test>\r\n");
    if (r.rfind("421", 0) == 0) return {421, 0};
    r = send("RCPT TO:<" + rcpt + ">\r\n");
    int rcpt_code = std::stoi(r.substr(0, 3));
    if (rcpt_code != 250) {
      send("RSET\r\n");
      return {rcpt_code, 0};
    }
    send("DATA\r\n");
    r = send("Subject: x\r\n\r\nbody\r\n.\r\n");
    return {rcpt_code, std::stoi(r.substr(0, 3))};
  }
  SmtpServerSession s;
};

TEST(ScriptedSession, SharesOfTemporaryAndPermanentRefusals) {
  SinkScript script = parse_ok({"grey.test:rcpt-4xx=30,rcpt-5xx=10,data-4xx=20"});
  Session session(script);
  int r4 = 0, r5 = 0, d4 = 0, ok = 0, plain_ok = 0;
  for (int i = 0; i < 2000; ++i) {
    auto [rcpt, final_code] = session.message("u" + std::to_string(i) + "@grey.test");
    r4 += rcpt == 451;
    r5 += rcpt == 550;
    d4 += final_code == 451;
    ok += final_code == 250;
    plain_ok += session.message("u@plain.test").second == 250;
  }
  // 2,000 rolls each: generous bounds, still far from "never" and "always".
  EXPECT_NEAR(r5, 200, 70);
  EXPECT_NEAR(r4, 600, 100);
  EXPECT_NEAR(d4, 1200 * 0.2, 60);
  EXPECT_EQ(r4 + r5 + d4 + ok, 2000);
  EXPECT_EQ(plain_ok, 2000);  // other domains are not scripted
  ScriptedRefusals counted = session.s.take_refusals();
  EXPECT_EQ(counted.temporary, static_cast<uint64_t>(r4 + d4));
  EXPECT_EQ(counted.permanent, static_cast<uint64_t>(r5));
}

TEST(ScriptedSession, FourTwentyOneAfterNMessages) {
  SinkScript script = parse_ok({"busy.test:421-after=3"});
  Session session(script);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(session.message("x@busy.test").second, 250);
  EXPECT_EQ(session.message("x@busy.test").first, 421);
  EXPECT_TRUE(session.s.closed());
}

TEST(ScriptedSession, Rcpt421SaysSlowDownAndCloses) {
  SinkScript script = parse_ok({"hot.test:rcpt-421=100"});
  Session session(script);
  EXPECT_EQ(session.send("MAIL FROM:<a@b.test>\r\n"), "250 2.1.0 Ok\r\n");
  std::string r = session.send("RCPT TO:<x@hot.test>\r\n");
  EXPECT_TRUE(r.starts_with("421 4.7.0 ")) << r;
  EXPECT_NE(r.find("slow down"), std::string::npos) << r;
  EXPECT_TRUE(session.s.closed());
  EXPECT_EQ(session.s.take_refusals().temporary, 1u);
  EXPECT_FALSE(SinkScript::parse(std::vector<std::string>{"a.test:rcpt-421=60,rcpt-4xx=50"}).ok());
}

TEST(ScriptedSession, DelayIsHandedToTheDriverOncePerOutput) {
  SinkScript script = parse_ok({"slow.test:delay-ms=250"});
  Session session(script);
  session.send("MAIL FROM:<a@b.test>\r\n");
  EXPECT_EQ(session.s.take_delay_ms(), 0u);  // the domain is not known yet
  session.send("RCPT TO:<x@slow.test>\r\n");
  EXPECT_EQ(session.s.take_delay_ms(), 250u);
  EXPECT_EQ(session.s.take_delay_ms(), 0u);
  session.send("DATA\r\n");
  EXPECT_EQ(session.s.take_delay_ms(), 250u);  // every later reply waits too
}

TEST(ScriptedSession, NeverAnswerGoesSilent) {
  SinkScript script = parse_ok({"hole.test:never-answer"});
  Session session(script);
  EXPECT_EQ(session.send("MAIL FROM:<a@b.test>\r\n"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(session.send("RCPT TO:<x@hole.test>\r\n"), "");
  EXPECT_TRUE(session.s.silent());
  EXPECT_EQ(session.send("QUIT\r\n"), "");
}

TEST(ScriptedSession, DifferentSessionsRollDifferently) {
  SinkScript script = parse_ok({"grey.test:rcpt-4xx=50"});
  Session a(script, 1), b(script, 2);
  std::string sa, sb;
  for (int i = 0; i < 64; ++i) {
    sa += std::to_string(a.message("x@grey.test").first);
    sb += std::to_string(b.message("x@grey.test").first);
  }
  EXPECT_NE(sa, sb);
}

}  // namespace
}  // namespace ringmta::loadgen
