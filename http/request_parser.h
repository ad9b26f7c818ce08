// HttpRequestParser: a sans-I/O parser of HTTP/1.1 requests for the HTTP listeners (admin, API),
// and the formatting of their answers. Fed bytes, it yields complete requests (request line,
// headers and a Content-Length body) or a rejection with the status to answer.
// Bounded: a request line longer than kMaxRequestLine is 414, headers beyond kMaxHeaderBytes or
// kMaxHeaders are 431, a body longer than the listener's max_body (kMaxBody for the admin
// listener, whose only bodies are form posts like RFC 8058's "List-Unsubscribe=One-Click") or
// chunked (Transfer-Encoding) is 413, anything malformed is 400. A client that asks
// `Expect: 100-continue` for a body within the limit is told to go on (take_continue()).
// After a rejection the parser stays failed (the connection answers and closes).
// It may not: do I/O, route requests (405/404 are the listener's), or buffer without bound.
#pragma once

#include <cstddef>
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
  std::string body;  // Content-Length bytes
  const std::string* header(std::string_view lower_name) const;
};

struct HttpRejection {
  int status = 400;
  std::string reason;
};

class HttpRequestParser {
 public:
  static constexpr std::size_t kMaxRequestLine = 4096;
  static constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
  static constexpr std::size_t kMaxHeaders = 64;
  static constexpr std::size_t kMaxBody = 4096;

  explicit HttpRequestParser(std::size_t max_body = kMaxBody)
      : max_body_(max_body),
        max_buffered_(kMaxRequestLine + kMaxHeaderBytes + 64 * 1024 + max_body) {}

  // Call next() until it returns nothing after each feed: at most one request line, head and
  // max_body plus one read are held.
  void feed(std::string_view data);
  // The next complete request, if one is buffered. Check rejection() when it returns nothing.
  std::optional<HttpRequest> next();
  const std::optional<HttpRejection>& rejection() const { return rejection_; }
  std::size_t buffered() const { return buffer_.size(); }
  std::size_t max_buffered() const { return max_buffered_; }
  // True once for a request whose head asked `Expect: 100-continue` and whose body is still to
  // come: the listener sends "HTTP/1.1 100 Continue" (RFC 9110 §10.1.1), e.g. for curl's uploads.
  bool take_continue() { return std::exchange(continue_due_, false); }

 private:
  void reject(int status, std::string reason);
  // The request of a head, with the body length it announces in body_length.
  std::optional<HttpRequest> parse_head(std::string_view head, std::size_t& body_length);

  std::size_t max_body_;
  std::size_t max_buffered_;
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
