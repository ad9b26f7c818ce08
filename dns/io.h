// dns::Io: the little the resolver needs from an event loop — watch a socket for readiness, run a
// function at a time — so dns/ does not depend on engine/ (the engine depends on dns/).
// engine/dns_driver.h implements it on the shard's io_uring EventLoop; tests may implement it on
// poll(2). It may not grow operations the resolver does not use.
#pragma once

#include <cstdint>
#include <functional>

#include "util/time.h"

namespace ringmta::dns {

class IoHandler {
 public:
  // `fd` is readable and/or writable (errors and hang-ups are reported as the watched events).
  virtual void on_io_ready(int fd, bool readable, bool writable) = 0;

 protected:
  ~IoHandler() = default;
};

class Io {
 public:
  virtual ~Io() = default;
  // Level-triggered interest in `fd`: report readiness to `handler` until the interest changes.
  // watch(fd, false, false, ...) ends it; it is called just before the socket is closed, so the
  // implementation must not touch the fd afterwards (a new socket may reuse the number).
  // May be called from inside on_io_ready.
  virtual void watch(int fd, bool readable, bool writable, IoHandler* handler) = 0;
  // Runs fn on the loop once now() >= at. Ids are never 0.
  virtual uint64_t add_timer(Millis at, std::function<void()> fn) = 0;
  virtual void cancel_timer(uint64_t id) = 0;
  virtual Millis now() const = 0;
};

}  // namespace ringmta::dns
