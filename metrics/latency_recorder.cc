// LatencyRecorder implementation. Values below kSub are exact; above, a value's bucket is its
// power of two (the position of its highest bit) and the next kSubBits bits.
#include "metrics/latency_recorder.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ringmta::metrics {

int LatencyRecorder::bucket_of(uint64_t v) {
  if (v < kSub) return static_cast<int>(v);
  int high = 63 - std::countl_zero(v);  // >= kSubBits
  int shift = high - kSubBits;
  auto sub = static_cast<int>((v >> shift) & (kSub - 1));
  return kSub * (shift + 1) + sub;
}

double LatencyRecorder::low_of(int bucket) {
  if (bucket < kSub) return bucket;
  int shift = bucket / kSub - 1;
  int sub = bucket % kSub;
  return std::ldexp(static_cast<double>(kSub + sub), shift);
}

double LatencyRecorder::width_of(int bucket) {
  if (bucket < kSub) return 1;
  return std::ldexp(1.0, bucket / kSub - 1);
}

void LatencyRecorder::add(uint64_t micros) {
  ++counts_[static_cast<std::size_t>(bucket_of(micros))];
  ++count_;
  max_ = std::max(max_, micros);
}

void LatencyRecorder::merge(const LatencyRecorder& other) {
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

double LatencyRecorder::quantile(double q) const {
  if (count_ == 0) return 0;
  auto rank =
      static_cast<uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += counts_[static_cast<std::size_t>(b)];
    if (seen >= rank) {
      if (b < kSub) return b;
      return std::min(low_of(b) + width_of(b) / 2, static_cast<double>(max_));
    }
  }
  return static_cast<double>(max_);
}

}  // namespace ringmta::metrics
