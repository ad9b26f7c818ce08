// The /metrics page: which families ringmta exports, their help, types and labels, written from a
// Snapshot with Exposition. Domain series are bounded by the DomainTable that built the snapshot.
// It may not: read live counters or the queue (only the snapshot it is given).
#pragma once

#include <string>

#include "metrics/snapshot.h"

namespace ringmta::metrics {

std::string prometheus_text(const Snapshot& s);

}  // namespace ringmta::metrics
