// SubmissionServer: the SMTP submission listener of `ringmta serve` — port 587 style (STARTTLS
// offered with a certificate) and/or 465 style (implicit TLS) — on its own io_uring loop thread.
// Each connection is a SubmissionSession driven by a TcpStream (and a server TlsChannel); a
// finished message goes to the GroupCommitter, and the session's 250 is sent when the commit
// that made it durable comes back (posted to this loop).
//
// Bounded: at most max_connections sessions (more are told 421 and closed), an idle timeout per
// session (longer inside a body), and at most kMaxHeldInput bytes waiting while a message commits.
// Stopping drains: no new connections, sessions waiting for a commit get their answer, the rest
// are told 421, all within kStopGrace.
// It may not: parse SMTP (the session does), write the queue itself (the committer does), or
// block its loop on anything but crypt(3) for a new password.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "submission/committer.h"
#include "submission/networks.h"
#include "submission/users.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::engine {
class EventLoop;
class TlsContext;
}  // namespace ringmta::engine

namespace ringmta::submission {

struct SubmissionOptions {
  std::string listen;      // STARTTLS (when a certificate is given), e.g. "0.0.0.0:587"; "" = none
  std::string tls_listen;  // implicit TLS, e.g. "0.0.0.0:465"; "" = none
  std::string tls_cert_path, tls_key_path;  // PEM; needed for tls_listen and for AUTH
  std::string users_path;                   // "" = no users (relay networks only)
  std::string relay_networks;               // CIDR list; "" = none
  std::string hostname;                     // greeting, Received:, Message-IDs
  uint64_t max_message_size = 52428800;
  std::size_t max_recipients = 1000;
  std::size_t max_connections = 1000;
  Millis command_timeout = 300'000;  // RFC 5321 §4.5.3.2.7: 5 minutes
  Millis data_timeout = 600'000;     // inside a body
};

// What an operator hears of (the service logs it).
struct SubmissionEvent {
  std::string kind;    // "auth_failed", "auth_required", "too_many_connections", "commit_failed"
  std::string client;  // the client's address
  std::string detail;
};

struct SubmissionCounts {
  uint64_t connections = 0;
  uint64_t messages = 0;    // answered 250
  uint64_t recipients = 0;  // of those messages
  uint64_t auth_failures = 0;
  uint64_t open = 0;  // sessions open now
};

// The counts as Prometheus families (ringmta_submission_*), for /metrics.
std::string submission_metrics(const SubmissionCounts& counts);

class SubmissionServer {
 public:
  static constexpr std::size_t kMaxHeldInput = 1 << 20;
  static constexpr Millis kStopGrace = 10'000;

  // Reads the users file and certificate, binds the listeners and starts the thread. Errors
  // name the option at fault.
  static Result<std::unique_ptr<SubmissionServer>> start(
      SubmissionOptions options, storage::Queue& queue,
      std::function<void(const SubmissionEvent&)> on_event = {});
  ~SubmissionServer();  // stop()
  SubmissionServer(const SubmissionServer&) = delete;
  SubmissionServer& operator=(const SubmissionServer&) = delete;

  // "HOST:PORT" as bound ("" when not listening).
  std::string address() const { return address_; }
  std::string tls_address() const { return tls_address_; }
  SubmissionCounts counts() const;
  std::size_t users() const { return user_count_.load(); }
  // SIGHUP: reads a users file and certificate (those of the reloaded configuration). New
  // sessions use them; sessions under way keep what they started with, and no connection is
  // dropped. A file that does not load is an error naming it, and the old users and certificate
  // stay. One thread at a time, not the loop's.
  Result<void> reload(const std::string& users_path, const std::string& cert_path,
                      const std::string& key_path);
  // Drains (see above) and joins. Thread-safe and idempotent; not from the loop thread.
  void stop();

  struct Loop;  // the loop thread's state (server.cc)

 private:
  SubmissionServer() = default;
  std::unique_ptr<Loop> loop_;
  std::unique_ptr<GroupCommitter> committer_;
  std::thread thread_;
  std::string address_, tls_address_;
  std::atomic<std::size_t> user_count_{0};
  std::atomic<bool> stopped_{false};
};

}  // namespace ringmta::submission
