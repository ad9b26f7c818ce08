// Latency histograms with fixed buckets. A ShardHistogram has one writer (its shard's thread):
// observe() is a bucket search and two relaxed stores, no lock, no allocation, no shared cache
// line with other shards. Readers (the supervisor) add shards into a HistogramSnapshot.
// It may not: change its buckets after construction, allocate in observe(), or format output.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

namespace ringmta::metrics {

// Upper bounds in seconds, ascending; the +Inf bucket is implicit.
inline constexpr double kSecondsBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,   1,      2.5,   5,    10,    30,   60};
// Enqueue → accepted: from seconds (the demo) to the default 48 h queue lifetime.
inline constexpr double kLatencyBuckets[] = {1,    5,     15,    60,    300,   900,
                                             3600, 14400, 43200, 86400, 172800};

class ShardHistogram {
 public:
  static constexpr std::size_t kMaxBuckets = 16;
  explicit ShardHistogram(std::span<const double> bounds);
  ShardHistogram(const ShardHistogram&) = delete;
  ShardHistogram& operator=(const ShardHistogram&) = delete;

  void observe_micros(uint64_t micros);  // writer thread only

  std::span<const double> bounds() const { return bounds_; }
  uint64_t bucket(std::size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  uint64_t sum_micros() const { return sum_micros_.load(std::memory_order_relaxed); }

 private:
  std::span<const double> bounds_;
  uint64_t bound_micros_[kMaxBuckets] = {};
  std::atomic<uint64_t> counts_[kMaxBuckets + 1] = {};  // last: above every bound (+Inf only)
  std::atomic<uint64_t> sum_micros_{0};
};

// The sum of some shards' histograms, with per-bucket (non-cumulative) counts.
struct HistogramSnapshot {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;  // bounds.size() + 1; the last one is above the highest bound
  double sum_seconds = 0;

  explicit HistogramSnapshot(std::span<const double> b = {})
      : bounds(b.begin(), b.end()), counts(b.size() + 1, 0) {}
  void add(const ShardHistogram& h);
  uint64_t count() const;
};

}  // namespace ringmta::metrics
