// Unit tests for protocol::ReplyParser and Reply: bytes fed in every split, multiline replies, bare
// LF, malformed input and the caps. No sockets; they may not depend on timing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/smtp_reply.h"

namespace ringmta::protocol {
namespace {

std::vector<Reply> drain(ReplyParser& p) {
  std::vector<Reply> out;
  while (auto r = p.next()) out.push_back(std::move(*r));
  return out;
}

TEST(ReplyParser, SingleLine) {
  ReplyParser p;
  ASSERT_TRUE(p.feed("250 2.1.0 Ok\r\n"));
  auto replies = drain(p);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].code, 250);
  ASSERT_TRUE(replies[0].enhanced);
  EXPECT_EQ(replies[0].enhanced->str(), "2.1.0");
  EXPECT_EQ(replies[0].lines, std::vector<std::string>{"2.1.0 Ok"});
  EXPECT_TRUE(replies[0].positive());
  EXPECT_FALSE(replies[0].local);
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(ReplyParser, SplitAtEveryByteBoundary) {
  const std::string wire =
      "250-mx.example.com Hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n"
      "550 5.7.1 <a@b>: Relay access denied\r\n354 End data with <CR><LF>.<CR><LF>\r\n";
  for (std::size_t cut1 = 0; cut1 <= wire.size(); ++cut1) {
    for (std::size_t cut2 = cut1; cut2 <= wire.size(); cut2 += 7) {
      ReplyParser p;
      ASSERT_TRUE(p.feed(wire.substr(0, cut1)));
      std::vector<Reply> got = drain(p);
      ASSERT_TRUE(p.feed(wire.substr(cut1, cut2 - cut1)));
      for (auto& r : drain(p)) got.push_back(std::move(r));
      ASSERT_TRUE(p.feed(wire.substr(cut2)));
      for (auto& r : drain(p)) got.push_back(std::move(r));
      ASSERT_EQ(got.size(), 3u) << cut1 << "/" << cut2;
      EXPECT_EQ(got[0].code, 250);
      EXPECT_EQ(got[0].lines.size(), 3u);
      EXPECT_EQ(got[0].lines[2], "SIZE 1000");
      EXPECT_EQ(got[1].code, 550);
      EXPECT_EQ(got[1].summary(), "550 5.7.1 <a@b>: Relay access denied");
      EXPECT_EQ(got[2].code, 354);
    }
  }
}

TEST(ReplyParser, OneByteAtATime) {
  const std::string wire = "220-hello\r\n220 ESMTP\r\n250 ok\n";
  ReplyParser p;
  std::vector<Reply> got;
  for (char c : wire) {
    ASSERT_TRUE(p.feed(std::string_view(&c, 1)));
    for (auto& r : drain(p)) got.push_back(std::move(r));
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].text(), "hello ESMTP");
  EXPECT_EQ(got[1].text(), "ok");
}

TEST(ReplyParser, SeveralRepliesInOneFeed) {
  ReplyParser p;
  ASSERT_TRUE(p.feed("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n450 4.2.0 busy\r\n354 go\r\n"));
  auto replies = drain(p);
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[2].code, 450);
  EXPECT_TRUE(replies[2].transient());
  EXPECT_EQ(replies[3].code, 354);
}

TEST(ReplyParser, BareLfAcceptedAsLineEnd) {
  ReplyParser p;
  ASSERT_TRUE(p.feed("250-a\n250-b\r\n250 c\n"));
  auto replies = drain(p);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].lines, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(ReplyParser, CodesDifferingBetweenLinesAreMalformed) {
  // RFC 5321 §4.2.1: every line carries the same code; neither line may decide.
  for (const char* mixed : {"250-looks fine\r\n550 5.1.1 no such user\r\n",
                            "250-first\r\n354 second\r\n", "354-go\r\n250 ok\r\n"}) {
    SCOPED_TRACE(mixed);
    ReplyParser p;
    EXPECT_FALSE(p.feed(mixed));
    EXPECT_TRUE(p.failed());
    EXPECT_NE(p.error().find("multiline reply with inconsistent codes"), std::string::npos);
    EXPECT_FALSE(p.next());
  }
}

TEST(ReplyParser, SummaryQuotesOneLineWithItsOwnEnhancedCode) {
  ReplyParser p;
  ASSERT_TRUE(p.feed("550-5.7.1 relaying denied\r\n550 5.7.0 see http://x\r\n"));
  auto r = p.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->summary(), "550 5.7.1 relaying denied");
  ASSERT_TRUE(p.feed("550-no code here\r\n550 5.7.0 see http://x\r\n"));
  r = p.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->summary(), "550 no code here");  // not 5.7.0, which another line said
}

TEST(ReplyParser, EnhancedClassDisagreeingWithCodeKeepsCode) {
  ReplyParser p;
  ASSERT_TRUE(p.feed("550 4.2.2 mailbox full\r\n"));
  auto r = p.next();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->permanent());
  ASSERT_TRUE(r->enhanced);
  EXPECT_EQ(r->enhanced->klass, 4);
}

TEST(ReplyParser, EnhancedCodeFromLastLineOnly) {
  ReplyParser p;
  ASSERT_TRUE(p.feed("550-5.7.1 first\r\n550 see http://x\r\n"));
  auto r = p.next();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->enhanced);
  ASSERT_TRUE(p.feed("250 2.0.0\r\n251 3.1.1 no\r\n250 2.10.300 x\r\n250 2.1.1234 y\r\n"));
  auto a = p.next();
  auto b = p.next();
  auto c = p.next();
  auto d = p.next();
  ASSERT_TRUE(a && b && c && d);
  EXPECT_EQ(a->enhanced, (EnhancedCode{2, 0, 0}));
  EXPECT_FALSE(b->enhanced);  // class 3 is not an enhanced class
  EXPECT_EQ(c->enhanced, (EnhancedCode{2, 10, 300}));
  EXPECT_FALSE(d->enhanced);  // detail longer than three digits
}

TEST(ReplyParser, ThreeDigitsAloneEndAReply) {
  ReplyParser p;
  ASSERT_TRUE(p.feed("250\r\n"));
  auto r = p.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 250);
  EXPECT_EQ(r->lines, std::vector<std::string>{""});
  EXPECT_EQ(r->summary(), "250");
}

TEST(ReplyParser, UnknownCodeOfKnownClassIsAccepted) {
  ReplyParser p;
  ASSERT_TRUE(p.feed("299 odd but positive\r\n470 odd transient\r\n"));
  auto a = p.next();
  auto b = p.next();
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->positive());
  EXPECT_TRUE(b->transient());
}

TEST(ReplyParser, MalformedLinesFail) {
  for (std::string bad : {"hello\r\n", "25 x\r\n", "2500 x\r\n", "250x\r\n", "\r\n", "611 x\r\n",
                          "199 x\r\n", "abc def\r\n", "-250 x\r\n"}) {
    ReplyParser p;
    EXPECT_FALSE(p.feed(bad)) << bad;
    EXPECT_TRUE(p.failed());
    EXPECT_FALSE(p.error().empty());
    EXPECT_FALSE(p.next());
    EXPECT_FALSE(p.feed("250 ok\r\n"));  // stays failed
    EXPECT_FALSE(p.next());
  }
}

TEST(ReplyParser, RepliesBeforeAMalformedLineAreKept) {
  ReplyParser p;
  EXPECT_FALSE(p.feed("250 ok\r\ngarbage\r\n"));
  auto r = p.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 250);
  EXPECT_TRUE(p.failed());
}

TEST(ReplyParser, LongLineCap) {
  ReplyParser p;
  std::string line = "250 " + std::string(ReplyParser::kMaxLine - 4, 'x');
  ASSERT_TRUE(p.feed(line + "\r\n"));  // exactly kMaxLine: fine
  EXPECT_TRUE(p.next());
  // A partial line longer than the cap fails without waiting for its end.
  ReplyParser q;
  std::string chunk(1000, 'y');
  ASSERT_TRUE(q.feed("250 "));
  bool ok = true;
  for (int i = 0; i < 200 && ok; ++i) ok = q.feed(chunk);
  EXPECT_FALSE(ok);
  EXPECT_TRUE(q.failed());
  EXPECT_NE(q.error().find("longer"), std::string::npos);
  EXPECT_LE(q.buffered(), ReplyParser::kMaxLine + 2);
}

TEST(ReplyParser, LongLineCapWithLineEnd) {
  ReplyParser p;
  EXPECT_FALSE(p.feed("250 " + std::string(ReplyParser::kMaxLine, 'x') + "\r\n"));
  EXPECT_TRUE(p.failed());
}

TEST(ReplyParser, EndlessContinuationLinesCap) {
  ReplyParser p;
  bool ok = true;
  std::size_t fed = 0;
  while (ok && fed < 100000) {
    ok = p.feed("250-more\r\n");
    ++fed;
  }
  EXPECT_FALSE(ok);
  EXPECT_EQ(fed, ReplyParser::kMaxLines + 1);  // line 201 of one reply is refused
  EXPECT_FALSE(p.next());
}

TEST(ReplyParser, MaxLinesExactlyIsAccepted) {
  ReplyParser p;
  std::string wire;
  for (std::size_t i = 0; i + 1 < ReplyParser::kMaxLines; ++i) wire += "250-x\r\n";
  wire += "250 end\r\n";
  ASSERT_TRUE(p.feed(wire));
  auto r = p.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->lines.size(), ReplyParser::kMaxLines);
}

TEST(ReplyParser, DiscardBufferedDropsEverythingNotTaken) {
  ReplyParser p;
  const std::string injected = "250-fake\r\n250 AUTH PLAIN\r\n250 part";
  ASSERT_TRUE(p.feed("220 2.0.0 Ready to start TLS\r\n" + injected));
  auto r = p.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 220);
  EXPECT_EQ(p.discard_buffered(), injected.size());
  EXPECT_FALSE(p.next());
  EXPECT_EQ(p.buffered(), 0u);
  ASSERT_TRUE(p.feed("250 real\r\n"));
  r = p.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text(), "real");
}

TEST(ReplyParser, DiscardBufferedClearsErrorFromDroppedBytes) {
  ReplyParser p;
  EXPECT_FALSE(p.feed("220 go ahead\r\nnot smtp at all\r\n"));
  ASSERT_TRUE(p.next());
  p.discard_buffered();
  EXPECT_FALSE(p.failed());
  EXPECT_TRUE(p.feed("250 ok\r\n"));
  EXPECT_TRUE(p.next());
}

TEST(Reply, SummaryAndText) {
  Reply r;
  r.code = 554;
  r.enhanced = EnhancedCode{5, 7, 1};
  r.lines = {"5.7.1 <x@y>: Relay access denied", "second"};
  EXPECT_EQ(r.summary(), "554 5.7.1 <x@y>: Relay access denied");
  EXPECT_EQ(r.text(), "5.7.1 <x@y>: Relay access denied second");
  Reply plain;
  plain.code = 250;
  plain.lines = {"ok\x01"};
  EXPECT_EQ(plain.summary(), "250 ok?");  // control characters are not logged
}

TEST(Reply, MakeLocal) {
  Reply r = Reply::make_local(451, "4.4.2", "connection lost after DATA");
  EXPECT_TRUE(r.local);
  EXPECT_TRUE(r.transient());
  ASSERT_TRUE(r.enhanced);
  EXPECT_EQ(r.enhanced->str(), "4.4.2");
  EXPECT_EQ(r.summary(), "451 4.4.2 connection lost after DATA");
  Reply bare = Reply::make_local(554, "", "no enhanced");
  EXPECT_FALSE(bare.enhanced);
  EXPECT_EQ(bare.summary(), "554 no enhanced");
}

}  // namespace
}  // namespace ringmta::protocol
