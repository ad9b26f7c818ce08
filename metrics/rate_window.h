// RateWindow: a counter's rate over the last 1, 5 and 15 minutes from per-second samples the
// supervisor takes; also the last seconds' per-second increments, for the status page's chart.
// It may not: read counters itself, or hold more than 15 minutes of samples.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "util/time.h"

namespace ringmta::metrics {

class RateWindow {
 public:
  static constexpr Millis kSampleEvery = 1000;
  static constexpr std::size_t kKeep = 15 * 60 + 1;

  // Records `total` at `now`; samples closer than kSampleEvery to the previous are ignored.
  void sample(Millis now, uint64_t total);
  // Increase per second over the last `window` (or over the history kept, if shorter).
  double rate(Millis window) const;
  // The rate between consecutive samples over the last `seconds` samples, oldest first.
  std::vector<double> recent(std::size_t seconds) const;

 private:
  struct Sample {
    Millis at;
    uint64_t total;
  };
  std::deque<Sample> samples_;
};

}  // namespace ringmta::metrics
