// The process's own families for /metrics, under the names Prometheus client libraries use so
// that stock dashboards and alerts find them: process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds, process_max_fds,
// process_start_time_seconds; and ringmta_build_info{version, revision} 1, so a dashboard shows
// which build runs and a rollout is visible. Read from /proc/self at each scrape (a few
// microseconds); a file that cannot be read leaves its family out rather than report a made-up 0.
// It may not: keep state, or touch anything of the engine.
#pragma once

#include <string>
#include <string_view>

namespace ringmta::metrics {

std::string process_metrics_text(std::string_view version, std::string_view revision);

}  // namespace ringmta::metrics
