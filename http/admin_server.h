// AdminServer: an HTTP/1.1 listener on its own thread with a plain poll() loop. As the admin
// listener (`--admin 127.0.0.1:9464`) it serves GET /metrics (Prometheus text 0.0.4), GET /status
// (JSON) and GET / (the status page) from the latest published metrics::Snapshot; as any listener
// it hands the requests under a registered path prefix (POST /u/{token}: one-click unsubscribe;
// /api/ on the service's API listener) to their handler.
//
// A scrape never blocks delivery: the listener reads only the snapshot the supervisor published
// (an atomic shared_ptr swap); it never touches a shard or a counter being written. Handlers run
// on its thread, one request at a time (the unsubscribe handler writes to the queue there).
// HTTPS when ListenerOptions::tls is given (the service's API with --api-tls-cert): the same loop
// moves ciphertext, a TlsChannel per connection turns it into the parser's plaintext.
// Uploads (POST /api/v1/campaigns as multipart/form-data) are streamed: a StreamRoute's
// BodyReader gets the body piece by piece as it arrives, so its size is not bounded by memory.
// Bounded: at most kMaxClients connections, requests parsed by http::HttpRequestParser (capped
// heads, bodies up to ListenerOptions::max_body, streamed ones up to max_streamed_body), idle
// connections closed after kIdleTimeout.
// It may not: run on a shard thread, block on anything but poll(), or print.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "http/request_parser.h"
#include "metrics/snapshot.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::engine {
class TlsContext;
}

namespace ringmta::http {

struct HttpAnswer {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string extra_headers;  // whole lines, each ending in CRLF ("Allow: GET\r\n")
};

struct ListenerOptions {
  std::size_t max_body = HttpRequestParser::kMaxBody;          // larger bodies are 413
  uint64_t max_streamed_body = HttpRequestParser::kUnlimited;  // of a StreamRoute's requests
  // HTTPS with this server context (engine::TlsContext::server); null: plain HTTP.
  std::shared_ptr<engine::TlsContext> tls;
  // GET /, /status and /metrics from the published snapshot; off, only the handlers answer.
  bool builtin_pages = true;
};
using Handler = std::function<HttpAnswer(const HttpRequest& request)>;

// The consumer of one streamed request body (an upload), made by its StreamRoute.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // A piece of the body as it arrives. An answer ends the request at once: it is sent, the rest of
  // the body is dropped and the connection closes.
  virtual std::optional<HttpAnswer> consume(std::string_view piece) = 0;
  // The body has arrived whole: the answer.
  virtual HttpAnswer finish() = 0;
};

struct StreamStart {
  std::unique_ptr<BodyReader> reader;  // null: `answer` at once, the body unread
  HttpAnswer answer;
};

// Requests to `path` that `wants` accepts (by method and Content-Type, say) are streamed to the
// reader that `open` makes from their head.
struct StreamRoute {
  std::string path;
  StreamPolicy wants;
  std::function<StreamStart(const HttpRequest& head)> open;
};

class AdminServer {
 public:
  static constexpr std::size_t kMaxClients = 64;
  static constexpr Millis kIdleTimeout = 30'000;
  static constexpr uint16_t kDefaultPort = 9464;

  // listen: "HOST:PORT" or "[IPv6]:PORT" (port 0: ephemeral). Binds, then starts the thread.
  static Result<std::unique_ptr<AdminServer>> start(const std::string& listen,
                                                    ListenerOptions options = {});
  ~AdminServer();  // stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Any thread: the snapshot the next requests are answered from.
  void publish(std::shared_ptr<const metrics::Snapshot> snapshot);
  // Any thread: requests (any method) whose path starts with prefix go to handler from now on.
  void handle(std::string prefix, Handler handler);
  // Any thread: requests that route.wants accepts have their bodies streamed to route.open's
  // reader from now on.
  void handle_stream(StreamRoute route);
  // Any thread, before requests need it: more metric families appended to /metrics (Prometheus
  // text, each family whole), for parts outside the engine (the submission listener).
  void add_metrics(std::function<std::string()> families);
  // "http://127.0.0.1:9464/" as bound ("https://..." with TLS).
  std::string url() const { return url_; }
  uint16_t port() const { return port_; }
  // Thread-safe and idempotent: closes the listener and every connection, joins the thread.
  void stop();

 private:
  AdminServer() = default;
  void run();
  std::string answer(const HttpRequest& request) const;
  bool wants_stream(const HttpRequest& head) const;
  StreamStart open_stream(const HttpRequest& head) const;

  ListenerOptions options_;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::string url_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::shared_ptr<const metrics::Snapshot>> snapshot_;
  using Routes = std::vector<std::pair<std::string, Handler>>;
  std::atomic<std::shared_ptr<const Routes>> routes_;
  using StreamRoutes = std::vector<StreamRoute>;
  std::atomic<std::shared_ptr<const StreamRoutes>> stream_routes_;
  using MetricSources = std::vector<std::function<std::string()>>;
  std::atomic<std::shared_ptr<const MetricSources>> metric_sources_;
};

// The --admin flag. "none": no listener. A listener that cannot bind is an error when `required`
// (the flag was given explicitly), else `warning` says why and there is no listener.
struct AdminListen {
  std::unique_ptr<AdminServer> server;
  std::string warning;
};
Result<AdminListen> open_admin(const std::string& spec, bool required);

}  // namespace ringmta::http
