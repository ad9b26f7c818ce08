// wait_ready: a blocking wait, bounded, for one descriptor to be ready — for the few clients that
// run on their own thread with plain sockets (the HTTP client of `ringmta send` to a service, the
// cluster agent's Redis connection), never for an event loop's sockets.
// It may not: read or write the descriptor.
#pragma once

#include <poll.h>

#include <cerrno>

#include "util/time.h"

namespace ringmta {

// Waits until fd is ready for `events` (POLLIN, POLLOUT) or `timeout` ms pass; false on timeout
// or a poll error. EINTR waits on for what is left.
inline bool wait_ready(int fd, short events, Millis timeout) {
  const Millis deadline = monotonic_now() + timeout;
  for (;;) {
    const Millis left = deadline - monotonic_now();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

}  // namespace ringmta
