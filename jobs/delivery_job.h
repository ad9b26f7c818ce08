// run_delivery: what `send`, `run` and `demo` do once recipients are queued — check that the queue
// can record outcomes, set up bounces (DSN mode, classifier rules), the delivery log and the
// campaign figures the metrics report, then deliver until nothing is due now (or the queue is
// empty, with until_done). It may not parse flags or print a summary (the commands do); errors in
// the settings are values naming the setting.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/delivery.h"
#include "jobs/campaign.h"
#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::jobs {

struct DeliverySettings {
  std::string queue_dir;  // for errors
  bool until_done = false;
  // Keep delivering while a deferred recipient falls due within this many seconds (0: return
  // once nothing is due now); until_done: however far.
  UnixSeconds wait_for_retries = 120;
  std::string bounce_mode = "digest";  // digest, per-recipient or none
  std::string bounce_to;               // "" = the envelope Sender
  std::size_t bounce_digest_size = 100;
  int64_t bounce_digest_every = 60;  // seconds
  std::vector<std::string> bounce_rules;
  bool no_suppress = false;
  std::string delivery_log;  // "" = none
  uint64_t delivery_log_max_mb = 0;
  int delivery_log_keep = 5;
};

// options carries what the caller decides (shards, interrupt, progress and snapshot hooks, the
// labelled domains); the rest is filled in from settings and facts (facts: the campaign just
// queued, or empty for `run`).
Result<engine::DeliverySummary> run_delivery(storage::Queue& queue,
                                             const engine::RouteConfig& route,
                                             const DeliverySettings& settings,
                                             const CampaignFacts& facts,
                                             engine::DeliveryOptions options);

}  // namespace ringmta::jobs
