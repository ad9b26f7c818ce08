// AdminServer: the admin HTTP/1.1 listener (`--admin 127.0.0.1:9464`). On its own thread with a
// plain poll() loop, it serves GET /metrics (Prometheus text 0.0.4), GET /status (JSON) and GET /
// (the status page) from the latest published metrics::Snapshot.
//
// A scrape never blocks delivery: the listener reads only the snapshot the supervisor published
// (an atomic shared_ptr swap); it never touches a shard, a counter being written, or the queue.
// Bounded: at most kMaxClients connections, requests parsed by protocol::HttpRequestParser
// (capped heads, no bodies), idle connections closed after kIdleTimeout.
// It may not: run on a shard thread, block on anything but poll(), or print.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "metrics/snapshot.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::http {

class AdminServer {
 public:
  static constexpr std::size_t kMaxClients = 64;
  static constexpr Millis kIdleTimeout = 30'000;
  static constexpr uint16_t kDefaultPort = 9464;

  // listen: "HOST:PORT" or "[IPv6]:PORT" (port 0: ephemeral). Binds, then starts the thread.
  static Result<std::unique_ptr<AdminServer>> start(const std::string& listen);
  ~AdminServer();  // stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Any thread: the snapshot the next requests are answered from.
  void publish(std::shared_ptr<const metrics::Snapshot> snapshot);
  // "http://127.0.0.1:9464/" as bound.
  std::string url() const { return url_; }
  uint16_t port() const { return port_; }
  // Thread-safe and idempotent: closes the listener and every connection, joins the thread.
  void stop();

 private:
  AdminServer() = default;
  void run();
  std::string answer(const std::string& method, const std::string& path, bool keep_alive) const;

  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::string url_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::shared_ptr<const metrics::Snapshot>> snapshot_;
};

// The --admin flag. "none": no listener. A listener that cannot bind is an error when `required`
// (the flag was given explicitly), else `warning` says why and there is no listener.
struct AdminListen {
  std::unique_ptr<AdminServer> server;
  std::string warning;
};
Result<AdminListen> open_admin(const std::string& spec, bool required);

}  // namespace ringmta::http
