// `ringmta send` on a queue that `ringmta serve` holds: the message and the CSV are handed to the
// service's API as one campaign (POST /api/v1/campaigns as multipart/form-data, the CSV streamed
// from its file: a list of any size), which queues them durably with the same checks and
// delivers them over its own route. The rows the service rejects come back with their CSV line
// and go to the rejects file as a local send writes them (the first ServiceApi::kMaxRejectedRows;
// all are counted).
#pragma once

#include "cli/service_client.h"
#include "jobs/campaign.h"

namespace ringmta::cli {

// Prints what was queued and how to follow it; returns the exit status (0, or kUsage).
int send_via_service(const RunningService& service, const jobs::CampaignInput& input,
                     const std::string& queue_dir);

}  // namespace ringmta::cli
