// Delivery implementation: the supervising thread's loop.
#include "engine/delivery.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "bounce/classify.h"

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
  for (int c = 0; c < bounce::kCategoryCount; ++c) {
    config.category_names.emplace_back(bounce::category_name(static_cast<bounce::Category>(c)));
  }
  // Label values of the stages that get replies: lower case, one word.
  for (std::size_t st = 0; st < protocol::kStageCount; ++st) {
    const auto stage = static_cast<protocol::Stage>(st);
    std::string name;
    if (stage != protocol::Stage::kConnect && stage != protocol::Stage::kTlsHandshake) {
      for (const char* c = protocol::stage_name(stage); *c != 0; ++c) {
        name += static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
      }
    }
    config.reply_stage_names.push_back(std::move(name));
  }
  auto campaign_of = [&queue](uint64_t message) {
    auto stored = queue.get_message(message);
    return stored && !stored->campaign.empty() ? stored->campaign
                                               : "message " + std::to_string(message);
  };
  config.campaign_size_of = [&queue](const std::string& campaign) -> std::optional<uint64_t> {
    auto size = queue.campaign_size(campaign);
    if (!size || !size->has_value()) return std::nullopt;
    return **size;
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

using Shards = std::vector<std::unique_ptr<Shard>>;

// Creates options.shards shards and starts them; at the first that cannot start, `error` says why
// and the rest are not started.
Shards start_shards(storage::Queue& queue, const RouteConfig& route, const QueueClock& clock,
                    const DeliveryOptions& options, scheduler::SharedAllowances& allowances,
                    const SuppressionFeed* feed, std::string& error) {
  Shards shards;
  for (int i = 0; i < options.shards; ++i) {
    shards.push_back(std::make_unique<Shard>(
        i, options.shards, queue, route, clock, options.bounces, options.delivery_log, feed,
        options.control.get(), options.route_updates.get(), &allowances));
  }
  for (auto& shard : shards) {
    if (auto ok = shard->start(); !ok) {
      error = "cannot start a shard: " + ok.error().message;
      break;
    }
  }
  return shards;
}

// The metrics snapshots handed to options.on_snapshot (none without it): the shards' counters,
// RocksDB's figures every kStorageFiguresEvery, and whether a route is paused and why.
class SnapshotPublisher {
 public:
  SnapshotPublisher(storage::Queue& queue, const RouteConfig& route, const DeliveryOptions& options,
                    const storage::QueueCounts& at_start,
                    std::vector<const metrics::ShardCounters*> counters, const Shards& shards,
                    const cluster::ClusterAgent* cluster_agent)
      : queue_(queue), options_(options), shards_(shards), cluster_agent_(cluster_agent) {
    if (cluster_agent != nullptr) cluster_redis_ = route.cluster->redis.address;
    if (options.on_snapshot) {
      aggregator_ = make_aggregator(queue, route, options, at_start, std::move(counters));
    }
  }

  // Publishes a snapshot. When RocksDB's figures cannot be read it says so once and publishes
  // the last ones.
  void publish(bool finished) {
    if (!aggregator_) return;
    Millis now = monotonic_now();
    aggregator_->update(now, unix_now());
    if (finished || now >= next_storage_figures_) {
      auto f = queue_.storage_figures();
      if (f) {
        aggregator_->set_storage(f->live_data_bytes, f->pending_compaction_bytes);
      } else if (!figures_warned_) {
        // Only RocksDB's size estimates for the metrics: not a reason to stop delivering.
        std::fprintf(stderr, "ringmta: warning: %s; the storage metrics keep their last values\n",
                     f.error().message.c_str());
        figures_warned_ = true;
      }
      next_storage_figures_ = now + kStorageFiguresEvery;
    }
    bool paused = false;
    std::string diagnosis;
    for (auto& shard : shards_) {
      paused = paused || shard->paused();
      if (diagnosis.empty()) diagnosis = shard->diagnosis();
    }
    aggregator_->set_route_state(paused, diagnosis, unix_now());
    if (cluster_agent_ != nullptr) {
      const cluster::AgentStatus status = cluster_agent_->status();
      aggregator_->set_cluster({.enabled = true,
                                .node = cluster_agent_->node(),
                                .redis = cluster_redis_,
                                .redis_up = status.redis_up,
                                .live_nodes = status.live_nodes,
                                .redis_calls = status.redis_calls,
                                .tokens_leased = status.tokens_leased,
                                .fallbacks = status.fallbacks,
                                .suppressions_published = status.suppressions_published,
                                .suppressions_received = status.suppressions_received,
                                .last_error = status.last_error});
    }
    options_.on_snapshot(aggregator_->snapshot(finished));
  }

 private:
  storage::Queue& queue_;
  const DeliveryOptions& options_;
  const Shards& shards_;
  const cluster::ClusterAgent* cluster_agent_;  // null: not in a cluster
  std::string cluster_redis_;
  std::unique_ptr<metrics::Aggregator> aggregator_;
  Millis next_storage_figures_ = 0;
  bool figures_warned_ = false;
};

// Whether delivery is over once every shard says it has finished. Not while, with until_done,
// the queue still holds deferred recipients (idle shards look at storage again every
// Shard::kRecheckEvery); nor while a recipient is due that no shard has claimed yet, e.g. a DSN a
// shard just queued for a domain another shard owns: that is waited for (a bounded number of
// rounds without new outcomes) unless a route is paused.
class FinishCheck {
 public:
  FinishCheck(storage::Queue& queue, const QueueClock& clock, bool until_done,
              UnixSeconds wait_for_retries, uint64_t deferred_at_start)
      : queue_(queue),
        clock_(clock),
        until_done_(until_done),
        wait_for_retries_(wait_for_retries),
        deferred_at_start_(deferred_at_start) {}

  // Called once a supervisor round, with whether every shard has finished. An Error if the
  // queue cannot be read.
  Result<bool> over(bool all_finished, const metrics::Totals& totals, const Shards& shards) {
    // A paused route delivers nothing more in this run (it waits for the user's fix): no wait.
    // Nor is there anything to wait for when no recipient was deferred (no queue scan then: at
    // the end of a run it would seek past the tombstones of everything just delivered).
    const bool waiting =
        until_done_ || (wait_for_retries_ > 0 && (totals.deferred > 0 || deferred_at_start_ > 0));
    if (all_finished && waiting && !any_paused(shards)) {
      auto due = queue_.earliest_due();
      if (!due) return due.error();
      if (due->has_value() && (until_done_ || **due <= clock_.now() + wait_for_retries_)) {
        all_finished = false;
      }
    }
    if (uint64_t n = totals.delivered + totals.deferred + totals.failed; n != outcomes_seen_) {
      outcomes_seen_ = n;
      ready_waits_ = 0;
    }
    if (all_finished && !any_paused(shards) && ready_waits_ < kReadyWaitsMax) {
      auto due = queue_.earliest_due();
      if (!due) return due.error();
      if (*due && **due <= clock_.now()) {
        all_finished = false;
        ++ready_waits_;
      }
    }
    return all_finished;
  }

 private:
  storage::Queue& queue_;
  const QueueClock& clock_;
  const bool until_done_;
  const UnixSeconds wait_for_retries_;
  const uint64_t deferred_at_start_;
  int ready_waits_ = 0;  // rounds spent waiting for ready entries no shard has claimed yet
  uint64_t outcomes_seen_ = 0;
};

// The stopped shards' diagnosis, first error and first failures (at most 20) into the summary.
void collect_shard_results(DeliverySummary& summary, const Shards& shards) {
  for (auto& shard : shards) {
    if (summary.diagnosis.empty()) summary.diagnosis = shard->diagnosis();
    if (summary.error.empty()) summary.error = shard->error();
    for (auto& f : shard->failures()) {
      if (summary.failures.size() < 20) summary.failures.push_back(f);
    }
  }
}

}  // namespace

DeliverySummary deliver(storage::Queue& queue, const RouteConfig& route,
                        const DeliveryOptions& options) {
  DeliverySummary summary;
  Millis started = monotonic_now();
  Progress progress;
  static const SystemQueueClock system_clock;
  const QueueClock& clock = options.clock != nullptr ? *options.clock : system_clock;
  const auto at_start = queue.counts(clock.now());
  if (!at_start) {
    summary.error = "reading the queue failed: " + at_start.error().message;
    return summary;
  }
  progress.queued_at_start = at_start->ready;

  // The routes' limits, held across the shards (declared first: the shards hold pointers to it).
  scheduler::SharedAllowances allowances;
  // A cluster's agent fills the cluster-wide rules' allowances from Redis (stopped after the
  // shards: it gives their connection leases back).
  // The other nodes' suppressions reach the shards' backlogs through the feed, as local ones do.
  std::shared_ptr<SuppressionFeed> feed = options.suppression_feed;
  if (route.cluster && !feed) feed = std::make_shared<SuppressionFeed>();
  std::unique_ptr<cluster::ClusterAgent> cluster_agent;
  if (route.cluster) {
    cluster_agent = std::make_unique<cluster::ClusterAgent>(
        *route.cluster, allowances, &queue,
        [feed](std::string_view address) { feed->add(address); });
  }
  const Shards shards =
      start_shards(queue, route, clock, options, allowances, feed.get(), summary.error);
  std::vector<const metrics::ShardCounters*> counters;
  for (auto& shard : shards) counters.push_back(&shard->counters());
  SnapshotPublisher snapshots(queue, route, options, at_start.value(), counters, shards,
                              cluster_agent.get());
  auto note_read_error = [&summary](const Error& error) {
    if (summary.error.empty()) summary.error = "reading the queue failed: " + error.message;
  };

  Millis next_progress = started + options.progress_every;
  bool stop_requested = !summary.error.empty();
  FinishCheck finish(queue, clock, options.until_done, options.wait_for_retries,
                     at_start->deferred);
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
    snapshots.publish(false);
    Millis now = monotonic_now();
    if (options.on_progress && now >= next_progress) {
      progress.totals = metrics::sum(counters);
      progress.seconds = static_cast<double>(now - started) / 1000.0;
      options.on_progress(progress);
      next_progress = now + options.progress_every;
    }
    if (stop_requested) break;
    if (options.serve) continue;  // the service ends on interrupt only
    auto over = finish.over(all_finished, metrics::sum(counters), shards);
    if (!over) {
      note_read_error(over.error());
      break;
    }
    if (*over) break;
  }
  for (auto& shard : shards) shard->request_stop();
  for (auto& shard : shards) shard->join();
  for (auto& shard : shards) shard->counters().outcomes.flush();  // joined: no other writer
  if (auto ok = queue.sync_wal(); !ok && summary.error.empty()) {
    summary.error = "syncing the queue's WAL failed: " + ok.error().message;
  }
  collect_shard_results(summary, shards);
  summary.totals = metrics::sum(counters);
  if (auto left = queue.counts(clock.now()); left) {
    summary.queued = left->total();
    summary.deferred = left->deferred;
  } else {
    note_read_error(left.error());
  }
  // Only when something is left: on an emptied queue the lookup would seek past the tombstones
  // of everything just delivered, a noticeable part of a short run.
  if (summary.queued > 0) {
    if (auto due = queue.earliest_due(); due && *due) summary.next_due = **due;
  }
  summary.seconds = static_cast<double>(monotonic_now() - started) / 1000.0;
  snapshots.publish(true);
  return summary;
}

}  // namespace ringmta::engine
