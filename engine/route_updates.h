// RouteUpdates: what a reload (SIGHUP to `ringmta serve`) may change in a running delivery — the
// DKIM keys and the throttle rules — as one immutable State that the service replaces (on its
// thread) and every shard reads once a tick when the generation moved, as DeliveryControl is
// read. A shard then signs with the new keys (its own Signer, made from them) and applies the new
// limits to its throttle groups: the smart host's, and in direct delivery each MX group's as
// resolved again for the domain that made it; connections open stay open.
// It may not: read files or check the keys (the caller builds and validates the State first).
#pragma once

#include <vector>

#include "dkim/signing_key.h"
#include "scheduler/throttle_rules.h"
#include "util/published.h"

namespace ringmta::engine {

struct RouteUpdate {
  std::vector<dkim::SigningKey> dkim_keys;
  scheduler::ThrottleRules throttle;
};

class RouteUpdates : public Published<RouteUpdate> {
 public:
  using State = RouteUpdate;
};

}  // namespace ringmta::engine
