// What `send`, `run` and `demo` print: the route's warnings, the live progress line, the summary,
// the --json object, the exit status, and the hook that prints the progress line. Formatting only.
#pragma once

#include <cstdint>
#include <string>

#include "engine/delivery.h"
#include "jobs/campaign.h"
#include "metrics/progress_meter.h"

namespace ringmta::cli {

enum ExitStatus { kAllDelivered = 0, kSomeFailed = 1, kUsage = 2, kStillQueued = 3 };

// Prints "ringmta: MESSAGE" on stderr and returns kUsage: a command's usage or configuration error.
int usage_error(const std::string& message);

// The route's start-up warnings, one "ringmta: warning: ..." line each on stderr.
void print_warnings(const engine::RouteConfig& route);
// The progress line; `reading`: the recent rate and time left (metrics::ProgressMeter).
void print_progress(const engine::Progress& progress, const metrics::ProgressReading& reading,
                    bool tty);
// Has the delivery print its progress line on stderr: every second on a terminal, else every 2 s.
void show_progress(engine::DeliveryOptions& options);
// queue_dir: the queue, as the user named it, for the command that delivers what is left.
void print_summary(const engine::DeliverySummary& summary, const jobs::CampaignFacts& facts,
                   const std::string& queue_dir);
std::string json_summary(const engine::DeliverySummary& summary, const jobs::CampaignFacts& facts);
int exit_status(const engine::DeliverySummary& summary);

}  // namespace ringmta::cli
