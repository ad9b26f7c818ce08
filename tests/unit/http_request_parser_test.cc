// HttpRequestParser: requests split anywhere, pipelining, keep-alive rules, and every bound and
// malformation answered with its status; http_response framing.
#include <gtest/gtest.h>

#include <algorithm>

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

// A parser that streams the bodies of POST /upload, as the API listener does for uploads.
HttpRequestParser streaming_parser(uint64_t max_streamed = HttpRequestParser::kUnlimited) {
  HttpRequestParser p;
  p.stream_bodies([](const HttpRequest& head) { return head.path == "/upload"; }, max_streamed);
  return p;
}

// Feeds `wire` in pieces of `step` bytes and collects the streamed body; the status it ended on.
HttpRequestParser::BodyStatus stream(HttpRequestParser& p, std::string_view wire, std::size_t step,
                                     std::string& body, std::optional<HttpRequest>& head) {
  auto status = HttpRequestParser::BodyStatus::kMore;
  for (std::size_t i = 0; i < wire.size(); i += step) {
    p.feed(wire.substr(i, step));
    if (!head) head = p.next();
    if (head && p.in_body()) status = p.read_body(body);
    if (p.rejection()) return HttpRequestParser::BodyStatus::kFailed;
  }
  return status;
}

TEST(HttpRequestParser, StreamsALargeContentLengthBodyInPieces) {
  const std::string payload(3'000'000, 'x');  // far beyond max_body (4096)
  const std::string wire =
      "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(payload.size()) +
      "\r\n\r\n" + payload + "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
  HttpRequestParser p = streaming_parser();
  std::string body;
  std::optional<HttpRequest> head;
  std::size_t most_buffered = 0;
  for (std::size_t i = 0; i < wire.size() && !p.rejection(); i += 65536) {
    p.feed(std::string_view(wire).substr(i, 65536));
    most_buffered = std::max(most_buffered, p.buffered());
    if (!head) head = p.next();
    if (head && p.in_body()) (void)p.read_body(body);
  }
  ASSERT_TRUE(head);
  EXPECT_TRUE(head->streamed);
  EXPECT_TRUE(head->body.empty());
  EXPECT_EQ(body, payload);
  EXPECT_LE(most_buffered, 65536u + 100u);  // one read, never the body
  EXPECT_FALSE(p.in_body());
  auto next = p.next();  // the pipelined request behind the body
  ASSERT_TRUE(next);
  EXPECT_EQ(next->path, "/next");
}

TEST(HttpRequestParser, OnlyTheRequestsThePolicyNamesAreStreamed) {
  HttpRequestParser p = streaming_parser();
  p.feed("POST /other HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n");
  EXPECT_FALSE(p.next());
  ASSERT_TRUE(p.rejection());
  EXPECT_EQ(p.rejection()->status, 413);  // buffered bodies keep their bound
}

TEST(HttpRequestParser, DecodesAChunkedBodySplitAnywhere) {
  const std::string wire =
      "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n1A\r\n, world of chunked bodies!\r\n0\r\nX-Trailer: t\r\n\r\n"
      "GET /after HTTP/1.1\r\nHost: a\r\n\r\n";
  for (std::size_t step : {1u, 2u, 7u, 1000u}) {
    HttpRequestParser p = streaming_parser();
    std::string body;
    std::optional<HttpRequest> head;
    EXPECT_EQ(stream(p, wire, step, body, head), HttpRequestParser::BodyStatus::kEnd) << step;
    EXPECT_EQ(body, "hello, world of chunked bodies!") << step;
    auto next = p.next();
    ASSERT_TRUE(next) << step;
    EXPECT_EQ(next->path, "/after");
  }
}

TEST(HttpRequestParser, RefusesMalformedChunkingAndBodiesOverTheStreamedLimit) {
  const auto status_of = [](std::string wire, uint64_t limit = HttpRequestParser::kUnlimited) {
    HttpRequestParser p = streaming_parser(limit);
    std::string body;
    std::optional<HttpRequest> head;
    (void)stream(p, wire, wire.size(), body, head);
    return p.rejection() ? p.rejection()->status : 0;
  };
  const std::string head = "POST /upload HTTP/1.1\r\nHost: a\r\n";
  EXPECT_EQ(status_of(head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n"), 400);
  EXPECT_EQ(status_of(head + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n"), 400);
  EXPECT_EQ(status_of(head + "Transfer-Encoding: chunked\r\n\r\n" + std::string(2000, '1')), 400);
  EXPECT_EQ(status_of(head + "Transfer-Encoding: gzip, chunked\r\n\r\n"), 400);
  EXPECT_EQ(status_of(head + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"), 400);
  EXPECT_EQ(status_of(head + "Transfer-Encoding: chunked\r\n\r\n400\r\n", 1000), 413);
  EXPECT_EQ(status_of(head + "Content-Length: 1001\r\n\r\n", 1000), 413);
  EXPECT_EQ(status_of(head + "Content-Length: 1000\r\n\r\n", 1000), 0);
}

TEST(HttpRequestParser, AStreamedUploadAskingToContinueIsToldToGoOn) {
  HttpRequestParser p = streaming_parser();
  p.feed("POST /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n");
  auto head = p.next();
  ASSERT_TRUE(head && head->streamed);
  EXPECT_TRUE(p.take_continue());
  std::string body;
  EXPECT_EQ(p.read_body(body), HttpRequestParser::BodyStatus::kMore);
  p.feed("some body");
  EXPECT_EQ(p.read_body(body), HttpRequestParser::BodyStatus::kEnd);
  EXPECT_EQ(body, "some body");
  EXPECT_FALSE(p.take_continue());
}

}  // namespace
}  // namespace ringmta::http
