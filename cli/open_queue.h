// Opening a queue for the operating commands (queue, suppress, report): a missing queue and one
// held by a running job get errors that say so.
#pragma once

#include <memory>
#include <string>

#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::cli {

// A queue held by another process is an Error of ErrorKind::kInUse (a running `serve` can then be
// asked instead: cli/service_client.h). Refuses a directory without a queue.
Result<std::unique_ptr<storage::Queue>> open_existing_queue(const std::string& dir);
// Creates the queue if there is none (adding to a suppression list before the first send).
Result<std::unique_ptr<storage::Queue>> open_queue(const std::string& dir);

}  // namespace ringmta::cli
