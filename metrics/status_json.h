// The /status document: a Snapshot as JSON for the status page and for scripts (campaigns with
// progress, delivery rates over 1/5/15 minutes, routes with their limits and last replies, queue
// depth, top domains with their state, throttle changes).
// It may not: read live engine state (only the snapshot it is given).
#pragma once

#include <string>
#include <string_view>

#include "metrics/snapshot.h"

namespace ringmta::metrics {

std::string status_json(const Snapshot& s);

// A route's state at `now`: "paused" (waits for a fix), "backing off" (its 421s: nothing is sent
// before backing_off_until), "throttled" (fewer connections or a lower rate than configured after
// slow-down replies), else "open".
std::string_view route_state(const RouteSnapshot& r, UnixSeconds now);
// A domain's state: "waiting" (taken for delivery, no answer yet), "failing" (its last answer was
// a failure, or failures are as many as deliveries), "deferred" (its last answer), "delivering"
// (answered and more in progress), "delivered"; "queued" for a row with nothing yet.
std::string_view domain_state(const DomainRow& d);

}  // namespace ringmta::metrics
