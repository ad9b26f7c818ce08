// RetryPolicy arithmetic: exponential backoff with a floor, a cap and jitter.
#include "scheduler/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace ringmta::scheduler {

UnixSeconds next_retry(const RetryPolicy& policy, uint32_t attempts, UnixSeconds now,
                       double unit_random) {
  double interval =
      static_cast<double>(policy.first_retry) *
      std::pow(policy.growth, static_cast<double>(std::max<uint32_t>(attempts, 1) - 1));
  interval = std::min(interval, static_cast<double>(policy.max_interval));
  interval = std::max(interval, static_cast<double>(policy.first_retry));
  interval *= 1.0 + policy.jitter * std::clamp(unit_random, 0.0, 1.0);
  return now + static_cast<UnixSeconds>(interval);
}

UnixSeconds next_session_retry(const RetryPolicy& policy, uint32_t attempts, UnixSeconds now,
                               double unit_random) {
  const uint32_t doublings = std::min<uint32_t>(std::max<uint32_t>(attempts, 1) - 1, 16);
  double interval = static_cast<double>(kSessionRetry) * static_cast<double>(1u << doublings);
  interval = std::min(interval, static_cast<double>(policy.first_retry));
  interval *= 1.0 + policy.jitter * std::clamp(unit_random, 0.0, 1.0);
  return now + static_cast<UnixSeconds>(interval);
}

double RetryJitter::next_unit() {
  state_ ^= state_ << 13;
  state_ ^= state_ >> 7;
  state_ ^= state_ << 17;
  return static_cast<double>(state_ >> 11) / static_cast<double>(1ULL << 53);
}

bool expired(const RetryPolicy& policy, UnixSeconds first_enqueued, UnixSeconds now) {
  return now - first_enqueued >= policy.max_age;
}

}  // namespace ringmta::scheduler
