// EventLoop: one io_uring per shard thread. It only moves bytes and timers: it submits socket
// operations, hands each completion to the Completion object whose address is in the SQE's
// user_data (as Seastar's reactor does), and runs timers whose deadline has passed.
//
// Single-threaded: every method except wake() must be called from the loop's own thread.
// Cross-thread work arrives through post(), which wakes the ring through an eventfd.
// It may not: parse protocols, block, or own connection state.
#pragma once

#include <liburing.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "util/result.h"
#include "util/time.h"

namespace ringmta::metrics {
struct Counter;
}

namespace ringmta::engine {

// The target of one submitted operation. complete() receives the CQE's res (bytes, or -errno).
class Completion {
 public:
  virtual void complete(int result) = 0;

 protected:
  ~Completion() = default;
};

// A Completion calling a member function, so one object can own several kinds of pending ops.
template <class Owner, void (Owner::*Method)(int)>
class MemberCompletion final : public Completion {
 public:
  explicit MemberCompletion(Owner* owner) : owner_(owner) {}
  void complete(int result) override { (owner_->*Method)(result); }

 private:
  Owner* owner_;
};

using TimerId = uint64_t;

class EventLoop {
 public:
  static Result<std::unique_ptr<EventLoop>> create(unsigned entries = 4096);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void connect(int fd, const sockaddr* addr, socklen_t len, Completion* done);
  void recv(int fd, char* buf, std::size_t len, Completion* done);
  void send(int fd, const char* buf, std::size_t len, Completion* done);
  void accept(int fd, Completion* done);
  void poll(int fd, unsigned events, Completion* done);
  // Asks the kernel to cancel the pending operation whose target is `target`; it then completes
  // with -ECANCELED (or its own result if it finished first).
  void cancel(Completion* target);

  // Timers run on the loop thread once now() >= at. Cancelling an unknown id is harmless.
  TimerId add_timer(Millis at, std::function<void()> fn);
  void cancel_timer(TimerId id);

  // Runs fn on the loop thread soon (thread-safe; the only cross-thread entry).
  void post(std::function<void()> fn);
  // Runs fn at the end of every loop iteration (batching: flush writes once per tick).
  void on_tick_end(std::function<void()> fn) { tick_hooks_.push_back(std::move(fn)); }

  // Busy-time accounting: run() adds to `micros` the time it spends outside the kernel wait
  // (io_uring_submit_and_wait*). Call before run(); the counter must outlive the loop's run().
  void count_busy_time(metrics::Counter* micros) { busy_micros_ = micros; }

  // Runs until stop(). stop() is thread-safe.
  void run();
  void stop();
  Millis now() const { return now_; }

 private:
  EventLoop() = default;
  io_uring_sqe* sqe();
  void arm_wakeup();
  void drain_posted();
  void run_timers();
  void dispatch_completions();

  struct WakeCompletion;
  io_uring ring_{};
  bool ring_ready_ = false;
  int wake_fd_ = -1;
  uint64_t wake_value_ = 0;
  std::unique_ptr<WakeCompletion> wake_done_;
  Millis now_ = 0;
  bool stopping_ = false;
  std::map<std::pair<Millis, TimerId>, std::function<void()>> timers_;
  std::map<TimerId, Millis> timer_index_;
  TimerId next_timer_ = 1;
  std::vector<std::function<void()>> tick_hooks_;
  metrics::Counter* busy_micros_ = nullptr;

  std::mutex posted_mutex_;  // cross-thread handoff only; never held on the hot path
  std::vector<std::function<void()>> posted_;
  bool stop_requested_ = false;
};

}  // namespace ringmta::engine
