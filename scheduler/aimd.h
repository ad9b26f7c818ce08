// Aimd: an additive-increase / multiplicative-decrease controller for one route's concurrency or
// rate. "Slow down" signals (a 421, a rate-limit reply, a burst of refused connections) multiply
// the value by `decrease` (once per `decrease_hold`, so one burst of 421s on many connections is
// one cut); every `successes_per_step` successes add `step`, up to the ceiling. Each change is
// returned as a record (old, new, reason) for the log and /status. Sans-I/O: fed the time (Millis)
// and the reason text; it may not read clocks or log by itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "util/time.h"

namespace ringmta::scheduler {

struct AimdOptions {
  std::string name = "connections";  // what is controlled, copied into each change record
  double floor = 1;
  double ceiling = 16;
  double initial = -1;               // < 0: start at the ceiling
  double decrease = 0.5;             // multiplicative factor on a slow-down signal, in (0, 1)
  double step = 1;                   // additive increase
  uint32_t successes_per_step = 20;  // successes needed for one step up
  Millis decrease_hold = 2000;       // signals within this long of the last cut are not cut again
};

struct AimdChange {
  std::string name;  // AimdOptions::name
  double old_value = 0;
  double new_value = 0;
  bool decrease = false;
  std::string reason;  // the reply (or event) that caused it
  Millis at = 0;
};

class Aimd {
 public:
  explicit Aimd(AimdOptions options = {});

  // A slow-down signal: cuts the value unless one cut happened within decrease_hold or the value
  // is already at the floor. Returns the change, if any.
  std::optional<AimdChange> on_slow_down(std::string_view reason, Millis now);
  // A success: after successes_per_step of them since the last change, one step up (until the
  // ceiling). Returns the change, if any; reason says how many successes caused it.
  std::optional<AimdChange> on_success(Millis now);

  double value() const { return value_; }
  // The value as a whole count (connections): rounded down, at least floor (and at least 1).
  uint32_t whole() const;
  const AimdOptions& options() const { return options_; }
  // Moves the ceiling (e.g. a new rule); the value is clamped into [floor, ceiling].
  void set_ceiling(double ceiling);

 private:
  AimdOptions options_;
  double value_ = 0;
  uint32_t successes_ = 0;
  std::optional<Millis> last_decrease_;
};

}  // namespace ringmta::scheduler
