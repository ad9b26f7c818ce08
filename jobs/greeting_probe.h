// GreetingProbe: does an SMTP server answer from here? Connects to one address (from the route's
// bind address, if any), waits for the first line of the greeting, and reports whether it was a
// 220, with the reason when not: refused, unreachable, no greeting before the timeout (what a
// network that silently drops or intercepts outbound port 25 looks like), or another reply.
// Sends nothing. Runs on the caller's event loop. It may not: resolve names, retry, or speak SMTP
// beyond reading the greeting.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/io/event_loop.h"
#include "engine/io/tcp_stream.h"

namespace ringmta::jobs {

struct GreetingResult {
  bool greeted = false;
  std::string detail;  // the greeting's first line, or why there was none
};

class GreetingProbe final : public engine::StreamHandler {
 public:
  GreetingProbe(engine::EventLoop& loop, engine::Endpoint to, Millis timeout,
                std::function<void(const GreetingResult&)> done);
  // bind_to: the source address (--bind-address), or null.
  void start(const sockaddr_storage* bind_to);

 private:
  // The stream's handler (public base: TcpStream holds it by reference).
  void on_connected() override {}
  void on_data(std::string_view data) override;
  void on_stream_error(std::string reason) override;
  void on_closed() override;
  void finish(bool greeted, std::string detail);

  engine::EventLoop& loop_;
  engine::Endpoint to_;
  Millis timeout_;
  std::function<void(const GreetingResult&)> done_;
  std::unique_ptr<engine::TcpStream> stream_;
  std::optional<engine::TimerId> timer_;
  std::string line_;
  std::optional<GreetingResult> result_;  // decided; reported once the stream has closed
};

}  // namespace ringmta::jobs
