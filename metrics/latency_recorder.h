// LatencyRecorder: a log-linear histogram of durations in microseconds (16 sub-buckets per power of
// two, so any quantile is within about 6 % of the true value), for `ringmta blast`'s percentiles.
// Fixed size, no allocation after construction; merge() sums recorders from several threads.
// It may not: read a clock (callers pass durations), or be written by two threads at once.
#pragma once

#include <array>
#include <cstdint>

namespace ringmta::metrics {

class LatencyRecorder {
 public:
  void add(uint64_t micros);
  void merge(const LatencyRecorder& other);
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  // The q-quantile (0 < q <= 1) in microseconds: the midpoint of the bucket holding it; 0 if empty.
  double quantile(double q) const;

 private:
  static constexpr int kSubBits = 4;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = kSub * (64 - kSubBits + 1);
  static int bucket_of(uint64_t v);
  static double low_of(int bucket);  // smallest value in the bucket
  static double width_of(int bucket);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

}  // namespace ringmta::metrics
