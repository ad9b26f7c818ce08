// Per-shard delivery counters. Each shard is the only writer of its own ShardCounters (relaxed
// stores, no read-modify-write contention); readers (progress line, scrapes) sum all shards.
// It may not: format output or hold labels — exposition lives elsewhere.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

namespace ringmta::metrics {

struct Counter {
  std::atomic<uint64_t> value{0};
  void add(uint64_t n = 1) {
    value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const { return value.load(std::memory_order_relaxed); }
};

struct ShardCounters {
  Counter delivered;
  Counter deferred;
  Counter failed;
  Counter transactions;
  Counter connections_opened;
  Counter connections_failed;
  Counter bytes_sent;
  Counter possible_duplicates;
};

struct Totals {
  uint64_t delivered = 0, deferred = 0, failed = 0, transactions = 0, connections_opened = 0,
           connections_failed = 0, bytes_sent = 0, possible_duplicates = 0;
};

inline Totals sum(const std::vector<const ShardCounters*>& shards) {
  Totals t;
  for (const ShardCounters* s : shards) {
    t.delivered += s->delivered.get();
    t.deferred += s->deferred.get();
    t.failed += s->failed.get();
    t.transactions += s->transactions.get();
    t.connections_opened += s->connections_opened.get();
    t.connections_failed += s->connections_failed.get();
    t.bytes_sent += s->bytes_sent.get();
    t.possible_duplicates += s->possible_duplicates.get();
  }
  return t;
}

}  // namespace ringmta::metrics
