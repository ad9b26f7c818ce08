// ProgressMeter: the progress line's rate and time left, from the rate of the last half minute
// rather than the average since the start: a send slowed down by a provider's throttling says so
// within seconds, and one that sped up after a slow start (DNS, the first connections) is not held
// back by it. Fed the elapsed time and the count of recipients done; no clock of its own.
// It may not: read counters or print.
#pragma once

#include <cstdint>
#include <optional>

#include "metrics/rate_window.h"

namespace ringmta::metrics {

struct ProgressReading {
  double per_second = 0;                 // recipients done per second, recently
  std::optional<uint64_t> seconds_left;  // none: no rate yet, or nothing left
};

class ProgressMeter {
 public:
  static constexpr Millis kWindow = 30'000;

  // `done`: recipients delivered or failed so far; `left`: those still to do.
  ProgressReading update(Millis elapsed, uint64_t done, uint64_t left);

 private:
  RateWindow done_;
};

}  // namespace ringmta::metrics
