// run_delivery: the writable probe, bounce and log set-up, then engine::deliver.
#include "jobs/delivery_job.h"

#include <memory>

#include "bounce/classify.h"
#include "message/address.h"

namespace ringmta::jobs {

Result<engine::DeliverySummary> run_delivery(storage::Queue& queue,
                                             const engine::RouteConfig& route,
                                             const DeliverySettings& settings,
                                             const CampaignFacts& facts,
                                             engine::DeliveryOptions options) {
  if (auto writable = queue.check_writable(); !writable) {
    return make_error(
        "--queue " + settings.queue_dir +
        ": nothing delivered, the queue cannot record outcomes: " + writable.error().message);
  }
  options.until_done = settings.until_done;
  options.wait_for_retries = settings.wait_for_retries;
  options.bounces.mode = settings.bounce_mode == "none" ? engine::BounceMode::kNone
                         : settings.bounce_mode == "per-recipient"
                             ? engine::BounceMode::kPerRecipient
                             : engine::BounceMode::kDigest;
  if (!settings.bounce_to.empty()) {
    auto to = message::parse_address(settings.bounce_to);
    if (!to) return make_error("--bounce-to: " + to.error().message);
    options.bounces.to = to->str();
  }
  options.bounces.max_per_dsn = settings.bounce_digest_size;
  options.bounces.digest_every = settings.bounce_digest_every * 1000;
  options.bounces.reporting_mta = route.client.ehlo_name;
  options.bounces.suppress = !settings.no_suppress;
  bounce::Classifier classifier;
  for (const auto& path : settings.bounce_rules) {
    if (auto loaded = classifier.load_rules_file(path); !loaded) {
      return make_error("--bounce-rules " + loaded.error().message);
    }
  }
  options.bounces.classifier = &classifier;
  std::unique_ptr<engine::DeliveryLog> log;
  if (!settings.delivery_log.empty()) {
    auto opened = engine::DeliveryLog::open(
        settings.delivery_log,
        {.max_bytes = settings.delivery_log_max_mb << 20, .keep = settings.delivery_log_keep});
    if (!opened) return opened.error();
    log = std::move(opened.value());
    options.delivery_log = log.get();
  }
  if (!options.control) {
    // What an operator paused or cancelled (through the service) holds for `run` and `send` too.
    auto state = engine::control_state(queue);
    if (!state) return make_error("reading the queue's holds failed: " + state.error().message);
    if (!state->empty()) {
      auto control = std::make_shared<engine::DeliveryControl>();
      control->set(std::move(*state));
      options.control = std::move(control);
    }
  }
  options.metrics.enqueued = facts.accepted;
  options.metrics.suppressed = facts.suppressed;
  if (!facts.campaign.empty()) options.metrics.campaign_sizes[facts.campaign] = facts.accepted;
  return engine::deliver(queue, route, options);
}

}  // namespace ringmta::jobs
