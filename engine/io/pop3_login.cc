// Pop3Login implementation.
#include "engine/io/pop3_login.h"

namespace ringmta::engine {

Pop3Login::Pop3Login(EventLoop& loop, const Endpoint& server, std::string user,
                     std::string password, Millis timeout,
                     std::function<void(const std::string&)> done)
    : loop_(loop),
      server_(server),
      client_(std::move(user), std::move(password)),
      timeout_(timeout),
      done_(std::move(done)),
      stream_(loop, *this) {}

Pop3Login::~Pop3Login() {
  if (timer_ != 0) loop_.cancel_timer(timer_);
}

void Pop3Login::start() {
  timer_ = loop_.add_timer(loop_.now() + timeout_, [this] {
    timer_ = 0;
    client_.on_connection_lost("no answer from the POP3 server " + server_.str() + " in time");
    stream_.close();
  });
  stream_.connect(server_);
}

void Pop3Login::on_data(std::string_view data) {
  client_.on_received(data);
  std::string out = client_.take_output();
  if (!out.empty()) stream_.write(out);
  if (client_.done()) stream_.close();
}

void Pop3Login::on_stream_error(std::string reason) {
  client_.on_connection_lost(server_.str() + ": " + reason);
}

void Pop3Login::on_closed() {
  if (timer_ != 0) {
    loop_.cancel_timer(timer_);
    timer_ = 0;
  }
  if (!client_.done()) client_.on_connection_lost("closed");
  done_(*client_.result());
}

}  // namespace ringmta::engine
