// ThrottleGroup reporting (see throttle_group.h).
#include "engine/throttle_group.h"

#include <cstdio>

namespace ringmta::engine {

void report_throttle_changes(const ThrottleGroup& group,
                             const std::vector<scheduler::ThrottleChange>& changes,
                             metrics::ShardCounters& counters) {
  for (const auto& change : changes) {
    (change.decrease ? counters.throttle_decreases : counters.throttle_increases).add();
    if (change.name == "rate") {
      std::fprintf(stderr, "ringmta: throttle %s: rate %.0f%% -> %.0f%% of the limit (%s)\n",
                   group.name.c_str(), change.old_value * 100, change.new_value * 100,
                   change.reason.c_str());
    } else {
      std::fprintf(stderr, "ringmta: throttle %s: %s %.0f -> %.0f (%s)\n", group.name.c_str(),
                   change.name.c_str(), change.old_value, change.new_value, change.reason.c_str());
    }
  }
}

}  // namespace ringmta::engine
