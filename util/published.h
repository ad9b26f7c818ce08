// Published<T>: an immutable value that one thread replaces now and then and others read when its
// generation moved — one atomic load per check, the value itself (a shared_ptr copy) only then.
// The service's operator actions and reloads reach the shards this way, never through a lock on
// their hot path. It may not: change a value once published (set() makes a new one).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace ringmta {

template <class T>
class Published {
 public:
  Published() : value_(std::make_shared<const T>()) {}  // T{} at generation 0

  void set(T value) {
    value_.store(std::make_shared<const T>(std::move(value)));
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  std::shared_ptr<const T> state() const { return value_.load(); }

 private:
  std::atomic<std::shared_ptr<const T>> value_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace ringmta
