// SuppressionFeed: addresses that join the suppression list while a delivery runs (a one-click
// unsubscribe on the admin listener, and next the service's API), told to every shard so that a
// recipient already fetched, waiting in a route's backlog, is withdrawn before it is sent.
// Recipients still in storage are found by the shards' own check of the list at fetch time.
//
// Any thread may add(); each shard polls generation() once a tick (one atomic load) and, only
// when it moved, takes the new addresses under the lock: the hot path never waits on it.
// It may not: write the suppression list (the caller has, durably, before add()).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "storage/records.h"

namespace ringmta::engine {

class SuppressionFeed {
 public:
  void add(std::string_view address) {
    std::lock_guard lock(mutex_);
    added_.push_back(storage::suppression_address(address));
    generation_.store(added_.size(), std::memory_order_release);
  }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Copies the addresses added since *seen into into (lower case, as suppression_address makes
  // them) and moves *seen on.
  void take_since(uint64_t& seen, std::unordered_set<std::string>& into) const {
    std::lock_guard lock(mutex_);
    for (; seen < added_.size(); ++seen) into.insert(added_[seen]);
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> added_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace ringmta::engine
