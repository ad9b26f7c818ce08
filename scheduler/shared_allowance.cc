// SharedAllowance (see shared_allowance.h): GCRA cells advanced by compare-exchange.
#include "scheduler/shared_allowance.h"

#include <algorithm>
#include <cmath>

namespace ringmta::scheduler {
namespace {

// µs per token, and the burst tolerance in µs, of a rate; {0, 0} for unlimited.
std::pair<int64_t, int64_t> cell_timing(Rate rate, double burst) {
  if (rate.unlimited()) return {0, 0};
  const double interval = static_cast<double>(rate.per_ms) * 1000.0 / rate.count;
  const double tokens = burst > 0 ? burst : TokenBucket::default_burst(rate);
  const auto us = std::max<int64_t>(1, std::llround(interval));
  return {us, std::llround(std::max(0.0, tokens - 1) * static_cast<double>(us))};
}

// One node's part of a cluster-wide rule's limits while Redis is away: the rates and
// connections divided by the last known number of live nodes (connections rounded up).
Limits node_share(const Limits& whole, uint32_t nodes) {
  Limits part = whole;
  if (whole.max_connections > 0) {
    part.max_connections = std::max(1u, (whole.max_connections + nodes - 1) / nodes);
  }
  for (Rate* r : {&part.messages_per_second, &part.messages_per_minute, &part.messages_per_hour}) {
    if (!r->unlimited()) r->count /= nodes;
  }
  if (part.message_burst > 0) part.message_burst = std::max(1.0, part.message_burst / nodes);
  return part;
}

}  // namespace

SharedAllowance::SharedAllowance(const Limits& limits, Millis now) {
  set_limits(limits);
  for (Cell& cell : cells_) cell.arrival.store(now * 1000, std::memory_order_relaxed);
}

void SharedAllowance::set_limits(const Limits& limits) {
  std::lock_guard lock(limits_mutex_);
  limits_ = limits;
  // Born leasing: a cluster-wide rule sends nothing before the agent's first lease or fallback.
  if (limits.cluster && !cluster_.exchange(true, std::memory_order_relaxed)) {
    leasing_.store(true, std::memory_order_relaxed);
  }
  apply(fallback_nodes_ > 0 ? node_share(limits, fallback_nodes_) : limits);
}

Limits SharedAllowance::limits() const {
  std::lock_guard lock(limits_mutex_);
  return limits_;
}

void SharedAllowance::use_leases() {
  std::lock_guard lock(limits_mutex_);
  fallback_nodes_ = 0;
  apply(limits_);
  leasing_.store(true, std::memory_order_relaxed);
}

void SharedAllowance::fall_back(uint32_t nodes) {
  std::lock_guard lock(limits_mutex_);
  fallback_nodes_ = std::max(1u, nodes);
  apply(node_share(limits_, fallback_nodes_));
  leasing_.store(false, std::memory_order_relaxed);
}

void SharedAllowance::apply(const Limits& limits) {
  const Rate rates[] = {limits.messages_per_second, limits.messages_per_minute,
                        limits.messages_per_hour};
  for (std::size_t i = 0; i < cells_.size(); ++i) {
    const auto [interval, tolerance] = cell_timing(rates[i], limits.message_burst);
    cells_[i].interval.store(interval, std::memory_order_relaxed);
    cells_[i].tolerance.store(tolerance, std::memory_order_relaxed);
  }
  max_connections_.store(limits.max_connections, std::memory_order_relaxed);
}

bool SharedAllowance::take(Cell& cell, int64_t now_us, int64_t& retry_us) {
  const int64_t interval = cell.interval.load(std::memory_order_relaxed);
  if (interval == 0) return true;
  const int64_t tolerance = cell.tolerance.load(std::memory_order_relaxed);
  int64_t arrival = cell.arrival.load(std::memory_order_relaxed);
  for (;;) {
    const int64_t from = std::max(arrival, now_us);
    if (from - now_us > tolerance) {
      retry_us = from - tolerance;
      return false;
    }
    if (cell.arrival.compare_exchange_weak(arrival, from + interval, std::memory_order_relaxed)) {
      return true;
    }
  }
}

bool SharedAllowance::take_token(Millis now, Millis& retry_at) {
  if (!leasing_.load(std::memory_order_relaxed)) return true;
  int64_t tokens = tokens_.load(std::memory_order_relaxed);
  while (tokens > 0) {
    if (tokens_.compare_exchange_weak(tokens, tokens - 1, std::memory_order_relaxed)) return true;
  }
  token_misses_.fetch_add(1, std::memory_order_relaxed);
  const Millis due = tokens_due_.load(std::memory_order_relaxed);
  retry_at = due > now ? due : now + kLeaseWait;
  return false;
}

bool SharedAllowance::try_send(Millis now, Millis& retry_at) {
  const int64_t now_us = now * 1000;
  for (std::size_t i = 0; i <= cells_.size(); ++i) {
    int64_t retry_us = now_us;
    if (i < cells_.size() ? take(cells_[i], now_us, retry_us) : take_token(now, retry_at)) continue;
    // Give back what the earlier rates gave: their arrival times step back one interval.
    for (std::size_t j = 0; j < std::min(i, cells_.size()); ++j) {
      cells_[j].arrival.fetch_sub(cells_[j].interval.load(std::memory_order_relaxed),
                                  std::memory_order_relaxed);
    }
    if (i < cells_.size()) retry_at = std::max<Millis>(now + 1, (retry_us + 999) / 1000);
    return false;
  }
  return true;
}

bool SharedAllowance::try_open() {
  uint32_t open = open_.load(std::memory_order_relaxed);
  for (;;) {
    uint32_t max = max_connections_.load(std::memory_order_relaxed);
    if (leasing_.load(std::memory_order_relaxed)) {
      const uint32_t leases = connection_leases_.load(std::memory_order_relaxed);
      if (open >= leases) {
        connection_misses_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    }
    if (max != 0 && open >= max) return false;
    if (open_.compare_exchange_weak(open, open + 1, std::memory_order_relaxed)) return true;
  }
}

void SharedAllowance::closed() {
  open_.fetch_sub(1, std::memory_order_relaxed);
}

std::shared_ptr<SharedAllowance> SharedAllowances::get(const std::string& key, const Limits& limits,
                                                       Millis now) {
  std::lock_guard lock(mutex_);
  auto& slot = allowances_[key];
  if (!slot) slot = std::make_shared<SharedAllowance>(limits, now);
  return slot;
}

}  // namespace ringmta::scheduler
