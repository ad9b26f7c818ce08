// Delivery implementation: the supervising thread's loop.
#include "engine/delivery.h"

#include <chrono>
#include <memory>
#include <thread>

namespace ringmta::engine {

DeliverySummary deliver(storage::Queue& queue, const RouteConfig& route,
                        const DeliveryOptions& options) {
  DeliverySummary summary;
  Millis started = monotonic_now();
  Progress progress;
  progress.queued_at_start = queue.counts(unix_now()).ready;

  std::vector<std::unique_ptr<Shard>> shards;
  for (int i = 0; i < options.shards; ++i) {
    shards.push_back(std::make_unique<Shard>(i, options.shards, queue, route));
  }
  for (auto& shard : shards) {
    if (auto ok = shard->start(); !ok) {
      summary.error = "cannot start a shard: " + ok.error().message;
      break;
    }
  }
  std::vector<const metrics::ShardCounters*> counters;
  for (auto& shard : shards) counters.push_back(&shard->counters());

  Millis next_progress = started + options.progress_every;
  bool stop_requested = !summary.error.empty();
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
    Millis now = monotonic_now();
    if (options.on_progress && now >= next_progress) {
      progress.totals = metrics::sum(counters);
      progress.seconds = static_cast<double>(now - started) / 1000.0;
      options.on_progress(progress);
      next_progress = now + options.progress_every;
    }
    if (all_finished || stop_requested) break;
  }
  for (auto& shard : shards) shard->request_stop();
  for (auto& shard : shards) shard->join();
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
  storage::QueueCounts left = queue.counts(unix_now());
  summary.queued = left.total();
  summary.deferred = left.deferred;
  summary.seconds = static_cast<double>(monotonic_now() - started) / 1000.0;
  return summary;
}

}  // namespace ringmta::engine
