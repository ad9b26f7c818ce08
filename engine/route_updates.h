// RouteUpdates: what a reload (SIGHUP to `ringmta serve`) may change in a running delivery — the
// DKIM keys and the throttle rules — as one immutable State that the service replaces (on its
// thread) and every shard reads once a tick when the generation moved, as DeliveryControl is
// read. A shard then signs with the new keys (its own Signer, made from them) and applies the new
// limits to its throttle groups: the smart host's, and in direct delivery each MX group's as
// resolved again for the domain that made it; connections open stay open.
// It may not: read files or check the keys (the caller builds and validates the State first).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dkim/signing_key.h"
#include "scheduler/throttle_rules.h"

namespace ringmta::engine {

class RouteUpdates {
 public:
  struct State {
    std::vector<dkim::SigningKey> dkim_keys;
    scheduler::ThrottleRules throttle;
  };

  void set(State state) {
    state_.store(std::make_shared<const State>(std::move(state)));
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Null until the first set().
  std::shared_ptr<const State> state() const { return state_.load(); }

 private:
  std::atomic<std::shared_ptr<const State>> state_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace ringmta::engine
