// ProgressMeter implementation.
#include "metrics/progress_meter.h"

#include <cmath>

namespace ringmta::metrics {

ProgressReading ProgressMeter::update(Millis elapsed, uint64_t done, uint64_t left) {
  done_.sample(elapsed, done);
  ProgressReading out;
  out.per_second = done_.rate(kWindow);
  // Until two samples a second apart exist, the average since the start is all there is.
  if (out.per_second <= 0 && elapsed > 0) {
    out.per_second = static_cast<double>(done) * 1000.0 / static_cast<double>(elapsed);
  }
  if (out.per_second > 0 && left > 0) {
    out.seconds_left = static_cast<uint64_t>(std::ceil(static_cast<double>(left) / out.per_second));
  }
  return out;
}

}  // namespace ringmta::metrics
