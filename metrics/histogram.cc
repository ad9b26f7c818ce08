// ShardHistogram and HistogramSnapshot implementation.
#include "metrics/histogram.h"

#include <cmath>

namespace ringmta::metrics {

ShardHistogram::ShardHistogram(std::span<const double> bounds)
    : bounds_(bounds.first(std::min(bounds.size(), kMaxBuckets))) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    bound_micros_[i] = static_cast<uint64_t>(std::llround(bounds_[i] * 1e6));
  }
}

void ShardHistogram::observe_micros(uint64_t micros) {
  std::size_t i = 0;
  while (i < bounds_.size() && micros > bound_micros_[i]) ++i;
  counts_[i].store(counts_[i].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  sum_micros_.store(sum_micros_.load(std::memory_order_relaxed) + micros,
                    std::memory_order_relaxed);
}

void HistogramSnapshot::add(const ShardHistogram& h) {
  if (bounds.empty() && counts.size() <= 1) *this = HistogramSnapshot(h.bounds());
  for (std::size_t i = 0; i < counts.size() && i <= h.bounds().size(); ++i) {
    counts[i] += h.bucket(i);
  }
  sum_seconds += static_cast<double>(h.sum_micros()) / 1e6;
}

uint64_t HistogramSnapshot::count() const {
  uint64_t n = 0;
  for (uint64_t c : counts) n += c;
  return n;
}

}  // namespace ringmta::metrics
