// The /status document: a Snapshot as JSON for the status page and for scripts (campaigns with
// progress, delivery rates over 1/5/15 minutes, routes with their limits and last replies, queue
// depth, top domains with their state, throttle changes).
// It may not: read live engine state (only the snapshot it is given).
#pragma once

#include <string>

#include "metrics/snapshot.h"

namespace ringmta::metrics {

std::string status_json(const Snapshot& s);

}  // namespace ringmta::metrics
