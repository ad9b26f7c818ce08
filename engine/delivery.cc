// Delivery implementation: the supervising thread's loop.
#include "engine/delivery.h"

#include <chrono>
#include <memory>
#include <thread>

namespace ringmta::engine {
namespace {

std::unique_ptr<metrics::Aggregator> make_aggregator(
    storage::Queue& queue, const RouteConfig& route, const DeliveryOptions& options,
    const storage::QueueCounts& at_start, std::vector<const metrics::ShardCounters*> counters) {
  metrics::AggregatorConfig config = options.metrics;
  if (!route.direct) {  // direct delivery's routes are its MX host sets, as the shards report them
    config.route = smart_host_label(route);
  }
  config.max_connections = route.throttle.defaults().max_connections;
  config.max_messages_per_connection = route.throttle.defaults().max_messages_per_connection;
  config.queue_ready_at_start = at_start.ready;
  config.queue_deferred_at_start = at_start.deferred;
  auto campaign_of = [&queue](uint64_t message) {
    auto stored = queue.get_message(message);
    return stored && !stored->campaign.empty() ? stored->campaign
                                               : "message " + std::to_string(message);
  };
  return std::make_unique<metrics::Aggregator>(std::move(config), std::move(counters), campaign_of);
}

bool any_paused(const std::vector<std::unique_ptr<Shard>>& shards) {
  for (const auto& shard : shards) {
    if (shard->paused()) return true;
  }
  return false;
}

constexpr int kReadyWaitsMax = 25;  // supervisor rounds (kWalSyncEvery each) without progress

}  // namespace

DeliverySummary deliver(storage::Queue& queue, const RouteConfig& route,
                        const DeliveryOptions& options) {
  DeliverySummary summary;
  Millis started = monotonic_now();
  Progress progress;
  static const SystemQueueClock system_clock;
  const QueueClock& clock = options.clock != nullptr ? *options.clock : system_clock;
  const storage::QueueCounts at_start = queue.counts(clock.now());
  progress.queued_at_start = at_start.ready;

  std::vector<std::unique_ptr<Shard>> shards;
  for (int i = 0; i < options.shards; ++i) {
    shards.push_back(std::make_unique<Shard>(i, options.shards, queue, route, clock,
                                             options.bounces, options.delivery_log));
  }
  for (auto& shard : shards) {
    if (auto ok = shard->start(); !ok) {
      summary.error = "cannot start a shard: " + ok.error().message;
      break;
    }
  }
  std::vector<const metrics::ShardCounters*> counters;
  for (auto& shard : shards) counters.push_back(&shard->counters());
  std::unique_ptr<metrics::Aggregator> aggregator;
  if (options.on_snapshot) aggregator = make_aggregator(queue, route, options, at_start, counters);
  Millis next_storage_figures = 0;
  auto publish = [&](bool finished) {
    if (!aggregator) return;
    Millis now = monotonic_now();
    aggregator->update(now, unix_now());
    if (finished || now >= next_storage_figures) {
      storage::StorageFigures f = queue.storage_figures();
      aggregator->set_storage(f.live_data_bytes, f.pending_compaction_bytes);
      next_storage_figures = now + kStorageFiguresEvery;
    }
    bool paused = false;
    std::string diagnosis;
    for (auto& shard : shards) {
      paused = paused || shard->paused();
      if (diagnosis.empty()) diagnosis = shard->diagnosis();
    }
    aggregator->set_route_state(paused, diagnosis, unix_now());
    options.on_snapshot(aggregator->snapshot(finished));
  };

  Millis next_progress = started + options.progress_every;
  bool stop_requested = !summary.error.empty();
  int ready_waits = 0;  // rounds spent waiting for ready entries no shard has claimed yet
  uint64_t outcomes_seen = 0;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(kWalSyncEvery));
    if (auto ok = queue.sync_wal(); !ok && summary.error.empty()) {
      summary.error = "syncing the queue's WAL failed: " + ok.error().message;
      stop_requested = true;
    }
    bool all_finished = true;
    for (auto& shard : shards) {
      if (!shard->error().empty() && summary.error.empty()) summary.error = shard->error();
      all_finished = all_finished && shard->finished();
    }
    if (!summary.error.empty()) stop_requested = true;
    if (options.interrupt != nullptr && options.interrupt->load()) {
      summary.interrupted = true;
      stop_requested = true;
    }
    publish(false);
    Millis now = monotonic_now();
    if (options.on_progress && now >= next_progress) {
      progress.totals = metrics::sum(counters);
      progress.seconds = static_cast<double>(now - started) / 1000.0;
      options.on_progress(progress);
      next_progress = now + options.progress_every;
    }
    // With until_done, idle shards wait for deferred recipients to fall due (they look at storage
    // again every Shard::kRecheckEvery); the queue's first key says whether any remain.
    if (all_finished && options.until_done && queue.earliest_due().has_value()) {
      all_finished = false;
    }
    // A shard that just queued a DSN for a domain another shard owns: that shard looks at storage
    // again within Shard::kRecheckEvery; wait for it (bounded) unless a route is paused.
    const metrics::Totals totals = metrics::sum(counters);
    if (uint64_t n = totals.delivered + totals.deferred + totals.failed; n != outcomes_seen) {
      outcomes_seen = n;
      ready_waits = 0;
    }
    if (all_finished && !any_paused(shards) && ready_waits < kReadyWaitsMax) {
      auto due = queue.earliest_due();
      if (due && *due <= clock.now()) {
        all_finished = false;
        ++ready_waits;
      }
    }
    if (all_finished || stop_requested) break;
  }
  for (auto& shard : shards) shard->request_stop();
  for (auto& shard : shards) shard->join();
  for (auto& shard : shards) shard->counters().outcomes.flush();  // joined: no other writer
  if (auto ok = queue.sync_wal(); !ok && summary.error.empty()) {
    summary.error = "syncing the queue's WAL failed: " + ok.error().message;
  }
  for (auto& shard : shards) {
    if (summary.diagnosis.empty()) summary.diagnosis = shard->diagnosis();
    if (summary.error.empty()) summary.error = shard->error();
    for (auto& f : shard->failures()) {
      if (summary.failures.size() < 20) summary.failures.push_back(f);
    }
  }
  summary.totals = metrics::sum(counters);
  storage::QueueCounts left = queue.counts(clock.now());
  summary.queued = left.total();
  summary.deferred = left.deferred;
  summary.seconds = static_cast<double>(monotonic_now() - started) / 1000.0;
  publish(true);
  return summary;
}

}  // namespace ringmta::engine
