// GreetingProbe (see greeting_probe.h).
#include "jobs/greeting_probe.h"

namespace ringmta::jobs {

GreetingProbe::GreetingProbe(engine::EventLoop& loop, engine::Endpoint to, Millis timeout,
                             std::function<void(const GreetingResult&)> done)
    : loop_(loop), to_(std::move(to)), timeout_(timeout), done_(std::move(done)) {}

void GreetingProbe::start(const sockaddr_storage* bind_to) {
  stream_ = std::make_unique<engine::TcpStream>(loop_, *this);
  timer_ = loop_.add_timer(loop_.now() + timeout_, [this] {
    timer_.reset();
    finish(false, "no greeting within " + std::to_string(timeout_ / 1000) + " s");
  });
  stream_->connect(to_, bind_to);
}

void GreetingProbe::on_data(std::string_view data) {
  if (result_) return;
  line_.append(data.substr(0, 512 - std::min<std::size_t>(line_.size(), 512)));
  std::size_t eol = line_.find('\n');
  if (eol == std::string::npos && line_.size() < 512) return;
  std::string first = line_.substr(0, std::min(eol, line_.size()));
  while (!first.empty() && (first.back() == '\r' || first.back() == '\n')) first.pop_back();
  finish(first.starts_with("220"), first.empty() ? "an empty greeting line" : first);
}

void GreetingProbe::on_stream_error(std::string reason) {
  if (!result_) finish(false, reason.empty() ? "the connection closed" : reason);
}

void GreetingProbe::finish(bool greeted, std::string detail) {
  if (result_) return;
  result_ = GreetingResult{greeted, std::move(detail)};
  if (timer_) {
    loop_.cancel_timer(*timer_);
    timer_.reset();
  }
  stream_->close();  // on_closed reports, once nothing of the stream is in the ring
}

void GreetingProbe::on_closed() {
  if (!result_) result_ = GreetingResult{false, "the connection closed"};
  // Reported from a fresh loop turn: done_ may destroy this probe.
  loop_.post([this] { done_(*result_); });
}

}  // namespace ringmta::jobs
