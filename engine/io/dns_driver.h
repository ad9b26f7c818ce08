// DnsDriver: dns::Io on the shard's io_uring EventLoop, so the c-ares resolver (dns/resolver.h)
// runs on the same ring as the SMTP connections: each watched socket is one poll op (re-armed
// after every event; cancelled and re-armed when c-ares changes its interest), timers are loop
// timers. A poll op's Completion outlives the op: when c-ares closes a socket the watch is
// cancelled and frees itself only when its CQE arrives.
//
// Single-threaded (the loop's thread). It may not interpret DNS or own c-ares state.
// Destroy the Resolver first, then the DnsDriver, then (after run() returned) the EventLoop; a
// watch still in the ring when the driver goes away frees itself when its CQE arrives, or leaks
// (a few bytes) if the loop never runs again.
#pragma once

#include <unordered_map>

#include "dns/io.h"
#include "engine/io/event_loop.h"

namespace ringmta::engine {

class DnsDriver final : public dns::Io {
 public:
  explicit DnsDriver(EventLoop& loop) : loop_(loop) {}
  ~DnsDriver() override;
  DnsDriver(const DnsDriver&) = delete;
  DnsDriver& operator=(const DnsDriver&) = delete;

  void watch(int fd, bool readable, bool writable, dns::IoHandler* handler) override;
  uint64_t add_timer(Millis at, std::function<void()> fn) override {
    return loop_.add_timer(at, std::move(fn));
  }
  void cancel_timer(uint64_t id) override { loop_.cancel_timer(id); }
  Millis now() const override { return loop_.now(); }

  std::size_t watched() const { return watches_.size(); }

 private:
  struct Watch;
  EventLoop& loop_;
  std::unordered_map<int, Watch*> watches_;
};

}  // namespace ringmta::engine
