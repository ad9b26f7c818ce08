// RetryPolicy: when a deferred recipient is tried again, and when it has waited too long.
// Pure arithmetic over the attempt count, the clock value and a random unit value, so tests can
// walk through days of retries instantly. It may not read clocks or storage itself.
#pragma once

#include <cstdint>

#include "util/time.h"

namespace ringmta::scheduler {

struct RetryPolicy {
  UnixSeconds first_retry = 300;  // the first retry waits at least this long
  double growth = 2.0;            // each later interval is this much longer
  UnixSeconds max_interval = 4 * 3600;
  UnixSeconds max_age = 48 * 3600;  // then the recipient fails for good ("expired")
  double jitter = 0.2;              // intervals are spread by up to +20 % so retries do not align
};

// The due time for the next try after `attempts` tries (attempts >= 1). unit_random in [0, 1).
UnixSeconds next_retry(const RetryPolicy& policy, uint32_t attempts, UnixSeconds now,
                       double unit_random);

// The due time after a recipient's session was lost under it (a 421, the connection closed or
// timed out, a second time in a row): nothing was said about the recipient, so it waits seconds,
// not the retry schedule — kSessionRetry, doubling with each try, at most the first retry.
constexpr UnixSeconds kSessionRetry = 15;
UnixSeconds next_session_retry(const RetryPolicy& policy, uint32_t attempts, UnixSeconds now,
                               double unit_random);

// Where next_retry's unit_random comes from: a xorshift64 stream, seeded per shard so that the
// shards' retries do not line up. Not for anything that needs real randomness.
class RetryJitter {
 public:
  explicit RetryJitter(uint64_t seed) : state_(seed == 0 ? 0x9e3779b97f4a7c15ULL : seed) {}
  double next_unit();  // in [0, 1)

 private:
  uint64_t state_;
};

// True once a recipient first queued at first_enqueued may no longer be retried at now.
bool expired(const RetryPolicy& policy, UnixSeconds first_enqueued, UnixSeconds now);

}  // namespace ringmta::scheduler
