// Pop3Login: runs one protocol::Pop3LoginClient over a TcpStream (POP-before-SMTP), with a
// deadline, and reports "" (logged in) or the reason it failed. It may not retry or decide
// anything about SMTP; the route does that.
#pragma once

#include <functional>
#include <string>

#include "engine/io/event_loop.h"
#include "engine/io/tcp_stream.h"
#include "protocol/pop3_client.h"

namespace ringmta::engine {

class Pop3Login final : private StreamHandler {
 public:
  // done(outcome) fires once, after the socket is closed; the owner may destroy this object
  // after that call returns, not inside it.
  Pop3Login(EventLoop& loop, const Endpoint& server, std::string user, std::string password,
            Millis timeout, std::function<void(const std::string&)> done);
  ~Pop3Login();
  void start();

 private:
  void on_connected() override {}
  void on_data(std::string_view data) override;
  void on_stream_error(std::string reason) override;
  void on_closed() override;

  EventLoop& loop_;
  Endpoint server_;
  protocol::Pop3LoginClient client_;
  Millis timeout_;
  std::function<void(const std::string&)> done_;
  TcpStream stream_;
  TimerId timer_ = 0;
};

}  // namespace ringmta::engine
