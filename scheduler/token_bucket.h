// TokenBucket: a rate limit (N per second, minute or hour) with a burst allowance, for message and
// connection-open rates. Sans-I/O: every call is given the current monotonic time (Millis); it may
// not read a clock, sleep or allocate, so tests drive it with a fake clock.
#pragma once

#include <cstdint>
#include <string>

#include "util/result.h"
#include "util/time.h"

namespace ringmta::scheduler {

// A rate: `count` events per `per_ms` milliseconds. count == 0 means unlimited.
struct Rate {
  double count = 0;
  Millis per_ms = 1000;

  static Rate per_second(double n) { return Rate{n, 1000}; }
  static Rate per_minute(double n) { return Rate{n, 60'000}; }
  static Rate per_hour(double n) { return Rate{n, 3'600'000}; }
  bool unlimited() const { return count <= 0 || per_ms <= 0; }
  double per_second_value() const { return unlimited() ? 0 : count * 1000.0 / per_ms; }
  std::string str() const;  // "600/minute", "unlimited"
  bool operator==(const Rate&) const = default;
};

// Parses "10/second", "600/minute", "5000/hour" (also "10/s", "600/min", "5000/h", "10/sec").
Result<Rate> parse_rate(std::string_view text);

class TokenBucket {
 public:
  TokenBucket() = default;  // unlimited: every take succeeds
  // Starts full (burst tokens). burst <= 0: the default, one second's worth of tokens, at least 1.
  TokenBucket(Rate rate, double burst, Millis now);

  // Takes one token if one is available at now. Time going backwards never adds tokens.
  bool try_take(Millis now);
  // The earliest time >= now at which try_take would succeed (now if it would succeed now).
  Millis next_available(Millis now) const;
  // Tokens available at now (burst when unlimited).
  double tokens(Millis now) const;

  // Changes the rate, keeping the tokens already earned (capped at the new burst). The burst
  // stays as configured unless burst > 0 is given.
  void set_rate(Rate rate, Millis now, double burst = 0);

  const Rate& rate() const { return rate_; }
  double burst() const { return burst_; }
  bool unlimited() const { return rate_.unlimited(); }

  static double default_burst(Rate rate);

 private:
  void refill(Millis now);
  double per_ms() const { return rate_.count / static_cast<double>(rate_.per_ms); }

  Rate rate_{};
  double burst_ = 1;
  double tokens_ = 1;
  Millis last_ = 0;
};

}  // namespace ringmta::scheduler
