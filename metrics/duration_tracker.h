// DurationTracker: measures the time between two events of the same id (a transaction submitted
// → its reply; a connection opened → its session ready) on one thread, for histograms.
// Ids are expected to be handed out in increasing order (they are sequential per worker); the
// start times live in a fixed ring indexed by id, so start() and finish() are O(1) and never
// allocate. An id that stays open while kSlots later ids start is dropped, never mismeasured.
// It may not: be shared between threads, or grow.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

namespace ringmta::metrics {

inline uint64_t steady_micros() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Microseconds from a wall-clock time in seconds (e.g. a record's first enqueue) until now.
inline uint64_t micros_since(int64_t unix_seconds) {
  auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  int64_t then = unix_seconds * 1'000'000;
  return now > then ? static_cast<uint64_t>(now - then) : 0;
}

template <std::size_t kSlots>
class DurationTracker {
 public:
  void start(uint64_t id, uint64_t now_micros = steady_micros()) {
    slots_[id % kSlots] = Slot{id, now_micros};
  }
  // The time since start(id), if it is still known; forgets the id.
  std::optional<uint64_t> finish(uint64_t id, uint64_t now_micros = steady_micros()) {
    Slot& s = slots_[id % kSlots];
    if (s.id != id || s.started == 0) return std::nullopt;
    uint64_t at = s.started_at();
    s.started = 0;
    return now_micros >= at ? now_micros - at : 0;
  }

 private:
  struct Slot {
    uint64_t id = 0;
    uint64_t started = 0;  // micros + 1, so 0 means "none"
    Slot() = default;
    Slot(uint64_t i, uint64_t at) : id(i), started(at + 1) {}
    uint64_t started_at() const { return started - 1; }
  };
  std::array<Slot, kSlots> slots_{};
};

}  // namespace ringmta::metrics
