// `ringmta send` on a queue that `ringmta serve` holds: the message and the CSV are handed to the
// service's API as one campaign (POST /api/v1/campaigns), which queues them durably with the same
// checks and delivers them over its own route. Rows the CSV reader cannot read, or with the wrong
// number of columns, are rejected here; the rows the service rejects come back by index; both go
// to the rejects file with their CSV line, as a local send writes them.
#pragma once

#include "cli/service_client.h"
#include "jobs/campaign.h"

namespace ringmta::cli {

// Prints what was queued and how to follow it; returns the exit status (0, or kUsage).
int send_via_service(const RunningService& service, const jobs::CampaignInput& input,
                     const std::string& queue_dir);

}  // namespace ringmta::cli
