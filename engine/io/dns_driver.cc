// DnsDriver implementation: one self-owned poll Completion per watched socket. It may not touch a
// socket after c-ares said it is closing it.
#include "engine/io/dns_driver.h"

#include <poll.h>

#include <cerrno>

namespace ringmta::engine {

// States: armed (a poll op is in the ring), dispatching (inside on_io_ready), closed (c-ares is
// done with the fd: delete when no op is in the ring any more).
struct DnsDriver::Watch final : Completion {
  EventLoop* loop = nullptr;
  int fd = -1;
  unsigned events = 0;
  dns::IoHandler* handler = nullptr;
  bool armed = false;
  bool dispatching = false;
  bool closed = false;

  void arm() {
    armed = true;
    loop->poll(fd, events, this);
  }

  void complete(int result) override {
    armed = false;
    if (closed) {
      delete this;
      return;
    }
    if (result > 0 || (result < 0 && result != -ECANCELED)) {
      // Readiness (revents), or a poll error: let c-ares find out what happened with the socket.
      unsigned revents = result > 0 ? static_cast<unsigned>(result) : (POLLERR | events);
      bool error = (revents & (POLLERR | POLLHUP)) != 0;
      bool readable = (events & POLLIN) && ((revents & POLLIN) || error);
      bool writable = (events & POLLOUT) && ((revents & POLLOUT) || error);
      if (readable || writable) {
        dispatching = true;
        handler->on_io_ready(fd, readable, writable);
        dispatching = false;
        if (closed) {
          delete this;
          return;
        }
      }
    }
    if (events != 0) arm();  // -ECANCELED (interest changed) lands here too
  }
};

void DnsDriver::watch(int fd, bool readable, bool writable, dns::IoHandler* handler) {
  unsigned events = (readable ? POLLIN : 0u) | (writable ? POLLOUT : 0u);
  auto it = watches_.find(fd);
  if (events == 0) {
    if (it == watches_.end()) return;
    Watch* w = it->second;
    watches_.erase(it);
    w->closed = true;
    w->events = 0;
    if (w->armed) {
      loop_.cancel(w);  // the CQE (-ECANCELED or a late readiness) frees it
    } else if (!w->dispatching) {
      delete w;
    }  // else: complete() frees it after on_io_ready returns
    return;
  }
  if (it == watches_.end()) {
    auto* w = new Watch();
    w->loop = &loop_;
    w->fd = fd;
    w->events = events;
    w->handler = handler;
    watches_.emplace(fd, w);
    w->arm();
    return;
  }
  Watch* w = it->second;
  w->handler = handler;
  if (w->events == events) return;
  w->events = events;
  if (w->armed) loop_.cancel(w);  // completes with -ECANCELED and re-arms with the new events
  // not armed: we are inside its complete(), which re-arms after on_io_ready returns
}

DnsDriver::~DnsDriver() {
  for (auto& [fd, w] : watches_) {
    w->closed = true;
    if (w->armed) {
      loop_.cancel(w);
    } else if (!w->dispatching) {
      delete w;
    }
  }
}

}  // namespace ringmta::engine
