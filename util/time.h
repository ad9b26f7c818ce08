// Time as plain integers, so protocol and scheduler code can be fed a fake clock in tests.
// Millis is a monotonic millisecond count (steady clock); UnixSeconds is wall-clock time for the
// queue.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace ringmta {

using Millis = int64_t;
using UnixSeconds = int64_t;

inline Millis monotonic_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline UnixSeconds unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline int64_t unix_now_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-12-04T21:59:52Z".
inline std::string rfc3339(UnixSeconds t) {
  time_t secs = static_cast<time_t>(t);
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

// The queue's wall clock: when recipients fall due, when they expire. The engine asks it instead of
// unix_now(), so a test can run days of retries in seconds (a clock that runs ahead).
class QueueClock {
 public:
  virtual ~QueueClock() = default;
  virtual UnixSeconds now() const = 0;
};

class SystemQueueClock final : public QueueClock {
 public:
  UnixSeconds now() const override { return unix_now(); }
};

}  // namespace ringmta
