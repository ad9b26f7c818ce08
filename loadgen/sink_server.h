// SinkServer: the io_uring SMTP listener behind `ringmta sink`. It accepts every message, counts
// it, and optionally records each accepted recipient to a file; it never stores or relays mail.
//
// One EventLoop per thread, each with its own SO_REUSEPORT listening socket; each connection is an
// SmtpServerSession driven by one outstanding recv and at most one send in flight.
// It may not: parse SMTP itself (protocol/smtp_server does), share mutable state between loop
// threads (counters are single-writer atomics), or free a connection while the ring still holds
// one of its operations.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "loadgen/sink_script.h"
#include "util/result.h"

namespace ringmta::loadgen {

struct SinkOptions {
  std::string listen = "127.0.0.1:2525";  // IPv4:port or [IPv6]:port; port 0 = ephemeral
  int threads = 1;
  std::string record_path;  // if set: one line per accepted recipient, appended
  // If set: each accepted message kept whole as DIR/QUEUE-ID.eml, after a Return-Path: and a
  // Delivered-To: per recipient (as a mailbox would store it). Written as it arrives, blocking
  // the loop: for looking at copies and verifying them, not for benchmarks.
  std::string messages_dir;
  // Misbehaviour per recipient domain (protocol/sink_script.h), e.g. "grey.test:rcpt-4xx=30".
  std::vector<std::string> scripts;
  std::function<void(uint16_t port)> on_listening;  // called by start() once bound
  // STARTTLS offered with this certificate chain and key (PEM); both empty: clear text only.
  std::string tls_cert_path, tls_key_path;
  int stats_every_ms = 0;  // `ringmta sink`: print the counts this often (0: only at the end)
};

struct SinkStats {
  uint64_t messages = 0;
  uint64_t recipients = 0;
  uint64_t bytes = 0;        // accepted body bytes (after dot-unstuffing)
  uint64_t connections = 0;  // accepted connections, in total
  // Most connections open at once: exact with one thread; with several, the sum of each thread's
  // peak (an upper bound).
  uint64_t peak_connections = 0;
  uint64_t refused_temporary = 0;  // 4xx / 421 replies a script asked for
  uint64_t refused_permanent = 0;  // 5xx replies a script asked for
};

class SinkServer {
 public:
  explicit SinkServer(SinkOptions options);
  ~SinkServer();  // stop()
  SinkServer(const SinkServer&) = delete;
  SinkServer& operator=(const SinkServer&) = delete;

  // Binds every thread's socket, opens the record file, calls on_listening(port), then launches
  // the loop threads. Call once.
  Result<void> start();
  // Stops accepting, closes connections, flushes the record file and joins the threads.
  // Thread-safe and idempotent; must not be called from a loop thread.
  void stop();

  // The bound port (valid after start()).
  uint16_t port() const { return port_; }
  // "HOST:PORT" as bound, e.g. "127.0.0.1:2525" or "[::1]:2525" (valid after start()).
  std::string address() const;
  // Sum of the per-thread counters; callable from any thread at any time.
  SinkStats stats() const;

  struct Worker;  // one loop thread (defined in sink_server.cc)

 private:
  void stop_locked();  // stop() with lifecycle_mutex_ held

  SinkOptions options_;
  SinkScript script_;  // parsed by start(); read by every loop thread, never written
  std::string host_;   // as written in options.listen, brackets removed
  uint16_t port_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;  // sized in the constructor, never resized
  std::mutex lifecycle_mutex_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace ringmta::loadgen
