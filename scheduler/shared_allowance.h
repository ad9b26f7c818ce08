// SharedAllowance: the part of a throttle rule's limits that several shards' traffic shares — the
// smart host, a rule over many domains, an MX host set — held once per process, so that the
// configured message rates and connection count hold for the route whatever the spread of its
// domains over the shards: a shard with work takes what an idle shard leaves (before, each shard
// had a fixed 1/N share, and a route ran at half its rate once one shard ran out of work).
//
// Lock-free, for the shards' hot path: each configured message rate is a GCRA (generic cell rate
// algorithm: one atomic theoretical arrival time, advanced by compare-exchange); open connections
// are an atomic count below the limit. A message costs one compare-exchange per configured rate.
// The shards keep their own RouteThrottle (full limits, scaled by their AIMD controllers) and take
// from the shared allowance as well; a cluster-wide rule (issue 20) feeds the same calls from
// leases.
// SharedAllowances is the registry the shards find a rule's allowance in, by the rule's key: its
// lock is taken only when a shard creates a throttle group, never per message.
// It may not read clocks (the caller gives `now`), block, or allocate on the hot path.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "scheduler/throttle_rules.h"
#include "util/time.h"

namespace ringmta::scheduler {

class SharedAllowance {
 public:
  explicit SharedAllowance(const Limits& limits, Millis now = 0);
  SharedAllowance(const SharedAllowance&) = delete;
  SharedAllowance& operator=(const SharedAllowance&) = delete;

  // New limits (a reload): the rates and the connection limit change at once; the earned burst
  // and the open connections stay.
  void set_limits(const Limits& limits);

  // One message at `now`: true takes it from every configured rate; false takes nothing and sets
  // retry_at to when the tightest rate has a token again.
  bool try_send(Millis now, Millis& retry_at);
  // One more open connection, if the route is below its max_connections; closed() gives it back.
  bool try_open();
  void closed();
  uint32_t open_connections() const { return open_.load(std::memory_order_relaxed); }
  uint32_t max_connections() const { return max_connections_.load(std::memory_order_relaxed); }

 private:
  // One rate: a token every `interval` µs, `tolerance` µs of burst; 0 interval: unlimited.
  struct Cell {
    std::atomic<int64_t> interval{0};
    std::atomic<int64_t> tolerance{0};
    std::atomic<int64_t> arrival{0};  // theoretical arrival time, µs of the monotonic clock
  };
  // Takes one token of `cell` at now_us, or says when it has one again.
  static bool take(Cell& cell, int64_t now_us, int64_t& retry_us);

  std::array<Cell, 3> cells_;                 // messages per second, minute, hour
  std::atomic<uint32_t> max_connections_{0};  // 0: unlimited
  std::atomic<uint32_t> open_{0};
};

class SharedAllowances {
 public:
  // The allowance of `key` ("rule google", "smarthost HOST:PORT"), made from `limits` by the first
  // shard that asks; later askers get the same one.
  std::shared_ptr<SharedAllowance> get(const std::string& key, const Limits& limits, Millis now);
  // Every allowance made so far gets the limits `limits_of(key)` says (a reload).
  template <typename LimitsOf>
  void reload(LimitsOf&& limits_of) {
    std::lock_guard lock(mutex_);
    for (auto& [key, allowance] : allowances_) allowance->set_limits(limits_of(key));
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<SharedAllowance>> allowances_;
};

}  // namespace ringmta::scheduler
