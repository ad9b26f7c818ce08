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
// from the shared allowance as well.
// A cluster-wide rule (Limits::cluster) is also held across nodes: while the cluster agent
// (cluster/agent.h) has Redis, each message needs one of the tokens the agent leased and each open
// connection one of its connection leases, besides the local limits; while Redis is away the agent
// puts the allowance on this node's share of the limits (fallback) and the leases are not needed.
// The agent sees the demand it must lease for in the refusals counted here.
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
  // and the open connections stay. In fallback, the node's share of them.
  void set_limits(const Limits& limits);
  Limits limits() const;  // as configured (not the fallback share)

  // One message at `now`: true takes it from every configured rate; false takes nothing and sets
  // retry_at to when the tightest rate has a token again.
  bool try_send(Millis now, Millis& retry_at);
  // One more open connection, if the route is below its max_connections; closed() gives it back.
  bool try_open();
  void closed();
  uint32_t open_connections() const { return open_.load(std::memory_order_relaxed); }
  uint32_t max_connections() const { return max_connections_.load(std::memory_order_relaxed); }

  // -- the cluster agent's side (a cluster-wide rule only) --
  bool cluster() const { return cluster_.load(std::memory_order_relaxed); }
  // Leases needed (Redis answers) or not: fallback to the limits divided by `nodes` (>= 1).
  void use_leases();
  void fall_back(uint32_t nodes);
  bool leasing() const { return leasing_.load(std::memory_order_relaxed); }
  // Leased message tokens: added by the agent; taken one per message while leasing.
  void add_tokens(int64_t n) { tokens_.fetch_add(n, std::memory_order_relaxed); }
  int64_t tokens() const { return tokens_.load(std::memory_order_relaxed); }
  // Leftover tokens dropped (too old to spend without a burst above the cluster's rate); returns
  // them.
  int64_t drop_tokens() { return tokens_.exchange(0, std::memory_order_relaxed); }
  // When Redis says the cluster's rate has room again: a shard refused for want of a token
  // retries then (or within kLeaseWait).
  void set_tokens_due(Millis at) { tokens_due_.store(at, std::memory_order_relaxed); }
  // Connections this node holds leases for (a cap on open connections while leasing).
  void set_connection_leases(uint32_t n) { connection_leases_.store(n, std::memory_order_relaxed); }
  uint32_t connection_leases() const { return connection_leases_.load(std::memory_order_relaxed); }
  // Refusals for want of a leased token or connection since the last call: the demand.
  uint64_t take_token_misses() { return token_misses_.exchange(0, std::memory_order_relaxed); }
  uint64_t take_connection_misses() {
    return connection_misses_.exchange(0, std::memory_order_relaxed);
  }
  // A shard's slow-down signal (a 421, "slow down") for the cluster's adaptive backoff; the agent
  // takes the count.
  void note_slow_down() { slow_downs_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t take_slow_downs() { return slow_downs_.exchange(0, std::memory_order_relaxed); }
  static constexpr Millis kLeaseWait = 5;  // a shard's retry when no leased token is left

 private:
  void apply(const Limits& limits);  // to the cells and the connection limit
  // One rate: a token every `interval` µs, `tolerance` µs of burst; 0 interval: unlimited.
  struct Cell {
    std::atomic<int64_t> interval{0};
    std::atomic<int64_t> tolerance{0};
    std::atomic<int64_t> arrival{0};  // theoretical arrival time, µs of the monotonic clock
  };
  // Takes one token of `cell` at now_us, or says when it has one again.
  static bool take(Cell& cell, int64_t now_us, int64_t& retry_us);
  // One leased token while leasing (always yes otherwise), or when to ask again.
  bool take_token(Millis now, Millis& retry_at);

  std::array<Cell, 3> cells_;                 // messages per second, minute, hour
  std::atomic<uint32_t> max_connections_{0};  // 0: unlimited
  std::atomic<uint32_t> open_{0};

  mutable std::mutex limits_mutex_;  // reloads and the agent, never a message
  Limits limits_;
  uint32_t fallback_nodes_ = 0;  // 0: not in fallback
  std::atomic<bool> cluster_{false};
  std::atomic<bool> leasing_{false};
  std::atomic<int64_t> tokens_{0};
  std::atomic<Millis> tokens_due_{0};
  std::atomic<uint32_t> connection_leases_{0};
  std::atomic<uint64_t> token_misses_{0};
  std::atomic<uint64_t> connection_misses_{0};
  std::atomic<uint64_t> slow_downs_{0};
};

class SharedAllowances {
 public:
  // The allowance of `key` ("rule google", "smarthost HOST:PORT"), made from `limits` by the first
  // shard that asks; later askers get the same one.
  std::shared_ptr<SharedAllowance> get(const std::string& key, const Limits& limits, Millis now);
  // fn(key, allowance) for each allowance made so far (the cluster agent's round).
  template <typename Fn>
  void for_each(Fn&& fn) {
    std::lock_guard lock(mutex_);
    for (auto& [key, allowance] : allowances_) fn(key, allowance);
  }
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
