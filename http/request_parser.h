// HttpRequestParser: a sans-I/O parser of HTTP/1.1 requests for the HTTP listeners (admin, API),
// and the formatting of their answers. Fed bytes, it yields complete requests (request line,
// headers and a Content-Length body) or a rejection with the status to answer.
// Bounded: a request line longer than kMaxRequestLine is 414, headers beyond kMaxHeaderBytes or
// kMaxHeaders are 431, a body longer than the listener's max_body (kMaxBody for the admin
// listener, whose only bodies are form posts like RFC 8058's "List-Unsubscribe=One-Click") or
// chunked (Transfer-Encoding) is 413, anything malformed is 400. A client that asks
// `Expect: 100-continue` for a body within the limit is told to go on (take_continue()).
// Streamed bodies (uploads): a request whose head the listener's StreamPolicy accepts is returned
// as soon as its head is complete (streamed = true, body empty), and its body is then read in
// pieces with read_body(): a Content-Length up to max_streamed, or Transfer-Encoding: chunked
// (RFC 9112 §7.1, decoded; chunk extensions and trailers read and dropped). Memory stays one read.
// After a rejection the parser stays failed (the connection answers and closes).
// It may not: do I/O, route requests (405/404 are the listener's), or buffer without bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringmta::http {

struct HttpRequest {
  std::string method;
  std::string target;                                        // as sent, e.g. "/metrics?x=1"
  std::string path;                                          // target without the query
  int minor_version = 1;                                     // HTTP/1.minor
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  bool keep_alive = true;
  std::string body;       // Content-Length bytes; empty when streamed
  bool streamed = false;  // the body comes through HttpRequestParser::read_body()
  const std::string* header(std::string_view lower_name) const;
};

struct HttpRejection {
  int status = 400;
  std::string reason;
};

// Whether a request's body is streamed (true) or buffered whole within max_body (false).
using StreamPolicy = std::function<bool(const HttpRequest& head)>;

class HttpRequestParser {
 public:
  static constexpr std::size_t kMaxRequestLine = 4096;
  static constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
  static constexpr std::size_t kMaxHeaders = 64;
  static constexpr std::size_t kMaxBody = 4096;
  static constexpr std::size_t kMaxChunkLine = 1024;  // chunk size and its extensions
  static constexpr uint64_t kUnlimited = UINT64_MAX;

  explicit HttpRequestParser(std::size_t max_body = kMaxBody)
      : max_body_(max_body),
        max_buffered_(kMaxRequestLine + kMaxHeaderBytes + 64 * 1024 + max_body) {}

  // Requests that `policy` accepts have their bodies streamed, up to max_streamed bytes (decoded).
  void stream_bodies(StreamPolicy policy, uint64_t max_streamed = kUnlimited) {
    stream_policy_ = std::move(policy);
    max_streamed_ = max_streamed;
  }

  // Call next() (and read_body() while in_body()) until they return nothing after each feed: at
  // most one request line, head and max_body plus one read are held.
  void feed(std::string_view data);
  // The next complete request, if one is buffered. Check rejection() when it returns nothing.
  std::optional<HttpRequest> next();
  const std::optional<HttpRejection>& rejection() const { return rejection_; }

  enum class BodyStatus { kMore, kEnd, kFailed };
  // A streamed body: appends what has arrived of it to `piece`. kMore: more is to come (feed
  // again); kEnd: the body is whole, next() reads the next request; kFailed: see rejection().
  BodyStatus read_body(std::string& piece);
  // True between next() returning a streamed request and read_body() answering kEnd.
  bool in_body() const { return streaming_ != Streaming::kNone; }
  uint64_t body_read() const { return streamed_total_; }
  std::size_t buffered() const { return buffer_.size(); }
  std::size_t max_buffered() const { return max_buffered_; }
  // True once for a request whose head asked `Expect: 100-continue` and whose body is still to
  // come: the listener sends "HTTP/1.1 100 Continue" (RFC 9110 §10.1.1), e.g. for curl's uploads.
  bool take_continue() { return std::exchange(continue_due_, false); }

 private:
  void reject(int status, std::string reason);
  // The request of a head, with the body length it announces in body_length.
  std::optional<HttpRequest> parse_head(std::string_view head, uint64_t& body_length,
                                        bool& chunked);

  // A streamed body's decoding: counted bytes, or chunked (size line, data, CRLF, trailers).
  enum class Streaming { kNone, kLength, kChunkSize, kChunkData, kChunkDataEnd, kTrailers };
  BodyStatus read_chunked(std::string& piece);

  std::size_t max_body_;
  std::size_t max_buffered_;
  StreamPolicy stream_policy_;
  uint64_t max_streamed_ = kUnlimited;
  Streaming streaming_ = Streaming::kNone;
  uint64_t body_left_ = 0;  // of the Content-Length, or of the current chunk
  uint64_t streamed_total_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::string buffer_;
  std::optional<HttpRejection> rejection_;
  bool continue_due_ = false;
  bool continue_sent_ = false;  // for the request whose body is arriving
};

// "HTTP/1.1 100 Continue", the interim answer to Expect: 100-continue.
inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// "HTTP/1.1 404 Not Found" with Content-Type, Content-Length, Connection and Cache-Control.
// head_only: a HEAD answer (no body bytes, the same Content-Length).
std::string http_response(int status, std::string_view content_type, std::string_view body,
                          bool keep_alive, bool head_only = false,
                          std::string_view extra_headers = {});
std::string_view http_reason(int status);

}  // namespace ringmta::http
