// HttpRequestParser: requests split anywhere, pipelining, keep-alive rules, and every bound and
// malformation answered with its status; http_response framing.
#include <gtest/gtest.h>

#include "http/request_parser.h"

namespace ringmta::http {
namespace {

TEST(HttpRequestParser, ParsesAGetFedByteByByte) {
  std::string req = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept:  text/plain \r\n\r\n";
  HttpRequestParser p;
  std::optional<HttpRequest> got;
  for (char c : req) {
    ASSERT_FALSE(got);
    p.feed(std::string_view(&c, 1));
    got = p.next();
  }
  ASSERT_TRUE(got);
  EXPECT_EQ(got->method, "GET");
  EXPECT_EQ(got->target, "/metrics?x=1");
  EXPECT_EQ(got->path, "/metrics");
  ASSERT_NE(got->header("accept"), nullptr);
  EXPECT_EQ(*got->header("accept"), "text/plain");
  EXPECT_TRUE(got->keep_alive);
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(HttpRequestParser, PipelinedRequestsAndConnectionRules) {
  HttpRequestParser p;
  p.feed(
      "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /status HTTP/1.1\r\nHost: a\r\nConnection: "
      "keep-alive, Close\r\n\r\nGET /x HTTP/1.0\r\n\r\nGET /y HTTP/1.0\nConnection: "
      "keep-alive\n\n");
  auto a = p.next(), b = p.next(), c = p.next(), d = p.next();
  ASSERT_TRUE(a && b && c && d);
  EXPECT_TRUE(a->keep_alive);
  EXPECT_EQ(b->path, "/status");
  EXPECT_FALSE(b->keep_alive);
  EXPECT_FALSE(c->keep_alive);  // HTTP/1.0 default
  EXPECT_TRUE(d->keep_alive);   // bare LF line ends are accepted
  EXPECT_FALSE(p.next());
  EXPECT_FALSE(p.rejection());
}

int rejected(std::string_view input) {
  HttpRequestParser p;
  p.feed(input);
  while (p.next()) {
  }
  return p.rejection() ? p.rejection()->status : 0;
}

TEST(HttpRequestParser, RejectsMalformedRequestsWith400) {
  EXPECT_EQ(rejected("GET\r\n\r\n"), 400);
  EXPECT_EQ(rejected("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(rejected("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(rejected("GET http://x/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(rejected("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(rejected("GET / HTTP/1.1\r\n\r\n"), 400);  // no Host
  EXPECT_EQ(rejected("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"), 400);
  EXPECT_EQ(rejected("GET / HTTP/1.1\r\nHost a\r\n\r\n"), 400);
  EXPECT_EQ(rejected("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n"), 400);
}

TEST(HttpRequestParser, SmallBodiesFedByteByByteThenTheNextRequest) {
  std::string req =
      "POST /u/t HTTP/1.1\r\nHost: a\r\nContent-Length: 26\r\n\r\nList-Unsubscribe=One-Click"
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  HttpRequestParser p;
  std::vector<HttpRequest> got;
  for (char c : req) {
    p.feed(std::string_view(&c, 1));
    while (auto r = p.next()) got.push_back(std::move(*r));
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].body, "List-Unsubscribe=One-Click");
  EXPECT_EQ(got[1].path, "/");
  EXPECT_EQ(got[1].body, "");
}

TEST(HttpRequestParser, RejectsLargeOrChunkedBodiesAndOversizedHeads) {
  const std::string limit = std::to_string(HttpRequestParser::kMaxBody);
  EXPECT_EQ(rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + limit + "1\r\n\r\n"), 413);
  EXPECT_EQ(rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"),
            413);
  EXPECT_EQ(rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + limit + "\r\n\r\n"), 0);
  EXPECT_EQ(rejected("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), 413);
  EXPECT_EQ(rejected("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"), 0);
  EXPECT_EQ(rejected("GET /" + std::string(HttpRequestParser::kMaxRequestLine, 'a')), 414);
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (std::size_t i = 0; i < HttpRequestParser::kMaxHeaders; ++i) many += "X: y\r\n";
  EXPECT_EQ(rejected(many + "\r\n"), 431);
  EXPECT_EQ(
      rejected("GET / HTTP/1.1\r\nX: " + std::string(HttpRequestParser::kMaxHeaderBytes + 10, 'a')),
      431);
}

TEST(HttpRequestParser, AListenersOwnBodyLimitAndExpectContinue) {
  // The API listener's limit: a body of max_body bytes is taken, one more is 413.
  HttpRequestParser p(100'000);
  const std::string body(100'000, 'x');
  p.feed(
      "POST /api/v1/campaigns HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: "
      "100000\r\n\r\n");
  EXPECT_FALSE(p.next());
  EXPECT_TRUE(p.take_continue());  // told once to send the body
  EXPECT_FALSE(p.take_continue());
  p.feed(body.substr(0, 50'000));
  EXPECT_FALSE(p.next());
  EXPECT_FALSE(p.take_continue());  // not again while the same body arrives
  p.feed(body.substr(50'000));
  auto got = p.next();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->body.size(), 100'000u);
  HttpRequestParser small(100'000);
  small.feed(
      "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 100001\r\n\r\n");
  EXPECT_FALSE(small.next());
  ASSERT_TRUE(small.rejection());
  EXPECT_EQ(small.rejection()->status, 413);
  EXPECT_FALSE(small.take_continue());  // refused: never told to go on
  HttpRequestParser huge(100'000);
  huge.feed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n");
  EXPECT_FALSE(huge.next());
  ASSERT_TRUE(huge.rejection());
  EXPECT_EQ(huge.rejection()->status, 413);
}

TEST(HttpRequestParser, StaysFailedAndBounded) {
  HttpRequestParser p;
  p.feed("BAD\r\n\r\n");
  EXPECT_FALSE(p.next());
  ASSERT_TRUE(p.rejection());
  p.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_FALSE(p.next());
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(HttpResponse, FramesBodyAndHead) {
  std::string r = http_response(404, "text/plain", "nope\n", false);
  EXPECT_EQ(r,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\nnope\n");
  std::string h = http_response(200, "text/html", "abc", true, true);
  EXPECT_TRUE(
      h.ends_with("Content-Length: 3\r\nCache-Control: no-store\r\nConnection: "
                  "keep-alive\r\n\r\n"));
}

}  // namespace
}  // namespace ringmta::http
