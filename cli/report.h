// What `send`, `run` and `demo` print: the live progress line, the summary, the --json object,
// and the exit status. Formatting only.
#pragma once

#include <cstdint>
#include <string>

#include "engine/delivery.h"
#include "jobs/campaign.h"

namespace ringmta::cli {

enum ExitStatus { kAllDelivered = 0, kSomeFailed = 1, kUsage = 2, kStillQueued = 3 };

// Prints "ringmta: MESSAGE" on stderr and returns kUsage: a command's usage or configuration error.
int usage_error(const std::string& message);

void print_progress(const engine::Progress& progress, bool tty);
void print_summary(const engine::DeliverySummary& summary, const jobs::CampaignFacts& facts);
std::string json_summary(const engine::DeliverySummary& summary, const jobs::CampaignFacts& facts);
int exit_status(const engine::DeliverySummary& summary);

}  // namespace ringmta::cli
