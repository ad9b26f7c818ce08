// EventLoop implementation: io_uring submission helpers, timers, and the eventfd wake-up.
#include "engine/io/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "metrics/counters.h"

namespace ringmta::engine {

struct EventLoop::WakeCompletion final : Completion {
  explicit WakeCompletion(EventLoop* loop) : loop(loop) {}
  void complete(int) override {
    loop->drain_posted();
    if (!loop->stopping_) loop->arm_wakeup();
  }
  EventLoop* loop;
};

Result<std::unique_ptr<EventLoop>> EventLoop::create(unsigned entries) {
  std::unique_ptr<EventLoop> loop(new EventLoop());
  io_uring_params params{};
  params.flags = IORING_SETUP_SUBMIT_ALL;
  int rc = io_uring_queue_init_params(entries, &loop->ring_, &params);
  if (rc < 0) {
    params.flags = 0;
    rc = io_uring_queue_init_params(entries, &loop->ring_, &params);
  }
  if (rc < 0) return make_error(std::string("io_uring_queue_init: ") + std::strerror(-rc));
  loop->ring_ready_ = true;
  loop->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (loop->wake_fd_ < 0) return make_error(std::string("eventfd: ") + std::strerror(errno));
  loop->wake_done_ = std::make_unique<WakeCompletion>(loop.get());
  loop->now_ = monotonic_now();
  loop->arm_wakeup();
  return loop;
}

EventLoop::~EventLoop() {
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

io_uring_sqe* EventLoop::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (s == nullptr) {  // submission queue full: flush it and try again
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  return s;
}

void EventLoop::connect(int fd, const sockaddr* addr, socklen_t len, Completion* done) {
  io_uring_sqe* s = sqe();
  io_uring_prep_connect(s, fd, addr, len);
  io_uring_sqe_set_data(s, done);
}

void EventLoop::recv(int fd, char* buf, std::size_t len, Completion* done) {
  io_uring_sqe* s = sqe();
  io_uring_prep_recv(s, fd, buf, len, 0);
  io_uring_sqe_set_data(s, done);
}

void EventLoop::send(int fd, const char* buf, std::size_t len, Completion* done) {
  io_uring_sqe* s = sqe();
  io_uring_prep_send(s, fd, buf, len, MSG_NOSIGNAL);
  io_uring_sqe_set_data(s, done);
}

void EventLoop::accept(int fd, Completion* done) {
  io_uring_sqe* s = sqe();
  io_uring_prep_accept(s, fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  io_uring_sqe_set_data(s, done);
}

void EventLoop::poll(int fd, unsigned events, Completion* done) {
  io_uring_sqe* s = sqe();
  io_uring_prep_poll_add(s, fd, events);
  io_uring_sqe_set_data(s, done);
}

void EventLoop::cancel(Completion* target) {
  io_uring_sqe* s = sqe();
  io_uring_prep_cancel(s, target, 0);
  io_uring_sqe_set_data(s, nullptr);
}

void EventLoop::arm_wakeup() {
  io_uring_sqe* s = sqe();
  io_uring_prep_read(s, wake_fd_, &wake_value_, sizeof wake_value_, 0);
  io_uring_sqe_set_data(s, static_cast<Completion*>(wake_done_.get()));
}

TimerId EventLoop::add_timer(Millis at, std::function<void()> fn) {
  TimerId id = next_timer_++;
  timers_.emplace(std::make_pair(at, id), std::move(fn));
  timer_index_.emplace(id, at);
  return id;
}

void EventLoop::cancel_timer(TimerId id) {
  auto it = timer_index_.find(id);
  if (it == timer_index_.end()) return;
  timers_.erase(std::make_pair(it->second, id));
  timer_index_.erase(it);
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void EventLoop::stop() {
  post([this] { stop_requested_ = true; });
}

void EventLoop::drain_posted() {
  std::vector<std::function<void()>> work;
  {
    std::lock_guard lock(posted_mutex_);
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
}

void EventLoop::run_timers() {
  while (!timers_.empty()) {
    auto it = timers_.begin();
    if (it->first.first > now_) break;
    std::function<void()> fn = std::move(it->second);
    timer_index_.erase(it->first.second);
    timers_.erase(it);
    fn();
  }
}

void EventLoop::dispatch_completions() {
  // Copy a batch out and release the CQ slots before dispatching: a completion may submit more.
  constexpr unsigned kBatch = 256;
  io_uring_cqe* cqes[kBatch];
  struct Ready {
    Completion* done;
    int result;
  } ready[kBatch];
  for (;;) {
    unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kBatch);
    if (n == 0) return;
    for (unsigned i = 0; i < n; ++i) {
      ready[i] = {static_cast<Completion*>(io_uring_cqe_get_data(cqes[i])), cqes[i]->res};
    }
    io_uring_cq_advance(&ring_, n);
    for (unsigned i = 0; i < n; ++i) {
      if (ready[i].done != nullptr) ready[i].done->complete(ready[i].result);
    }
  }
}

void EventLoop::run() {
  uint64_t busy_since = metrics::steady_micros();
  auto account_busy = [&] {
    if (busy_micros_ != nullptr) busy_micros_->add(metrics::steady_micros() - busy_since);
  };
  while (!stop_requested_) {
    now_ = monotonic_now();
    run_timers();
    for (auto& hook : tick_hooks_) hook();
    if (stop_requested_) break;

    io_uring_cqe* cqe = nullptr;
    account_busy();
    if (timers_.empty()) {
      io_uring_submit_and_wait(&ring_, 1);
    } else {
      Millis wait = std::max<Millis>(0, timers_.begin()->first.first - monotonic_now());
      __kernel_timespec ts{};
      ts.tv_sec = wait / 1000;
      ts.tv_nsec = (wait % 1000) * 1'000'000;
      // -ETIME and -EINTR just mean: look at timers and completions again.
      io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    }
    busy_since = metrics::steady_micros();
    now_ = monotonic_now();
    dispatch_completions();
  }
  account_busy();
  stopping_ = true;
}

}  // namespace ringmta::engine
