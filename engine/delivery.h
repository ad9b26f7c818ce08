// Delivery: starts the shards on a queue, syncs the WAL at a short interval, reports progress,
// and returns when every shard has nothing left to do now (or on interrupt; under `serve`, only
// then).
//
// Durability window: outcomes are written unsynced by the shards and the WAL is synced every
// kWalSyncEvery here, so a crash may deliver again at most the recipients finished in the last
// kWalSyncEvery plus those in flight (at-least-once), never lose one.
// Metrics snapshots are built here, on the supervisor thread, from the shards' atomics.
// It may not: parse arguments or print (progress and snapshots go to the callbacks).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/delivery_control.h"
#include "engine/delivery_log.h"
#include "engine/route_config.h"
#include "engine/route_updates.h"
#include "engine/shard.h"
#include "engine/suppression_feed.h"
#include "metrics/aggregator.h"
#include "metrics/counters.h"
#include "metrics/snapshot.h"
#include "storage/queue.h"

namespace ringmta::engine {

constexpr Millis kWalSyncEvery = 200;

struct Progress {
  metrics::Totals totals;
  double seconds = 0;
  uint64_t queued_at_start = 0;
};

struct DeliverySummary {
  metrics::Totals totals;
  uint64_t queued = 0;       // still in the queue afterwards
  uint64_t deferred = 0;     // of those, due later
  std::string diagnosis;     // why the route paused or the smart host was unusable, if it was
  std::string error;         // a fatal error (storage), if any
  UnixSeconds next_due = 0;  // when the earliest recipient still queued falls due (0: none)
  std::vector<Failure> failures;
  bool interrupted = false;
  double seconds = 0;
};

struct DeliveryOptions {
  int shards = 1;
  const std::atomic<bool>* interrupt = nullptr;  // set by SIGINT/SIGTERM
  std::function<void(const Progress&)> on_progress;
  Millis progress_every = 1000;
  // Metrics: when set, the supervisor publishes a snapshot every kWalSyncEvery and a last one
  // (finished) once the shards have stopped. The route and queue fields of `metrics` are filled
  // in by deliver(); the caller gives campaign sizes, enqueued and the domain label bound.
  std::function<void(std::shared_ptr<const metrics::Snapshot>)> on_snapshot;
  metrics::AggregatorConfig metrics;
  DeliveryLog* delivery_log = nullptr;  // --delivery-log: one JSON line per outcome
  // Return only once the queue is empty (deferred recipients retried when due), not as soon as
  // nothing is due now.
  bool until_done = false;
  // Not return while a deferred recipient falls due within this many seconds (0: return once
  // nothing is due now).
  UnixSeconds wait_for_retries = 0;
  // `ringmta serve`: return only on interrupt or a fatal error. An empty queue is not the end:
  // what is queued meanwhile (by the service's API, on another thread) is picked up within
  // Shard::kRecheckEvery, deferred recipients when they fall due.
  bool serve = false;
  // Due times and expiry follow this clock (tests make it run ahead); null: the system clock.
  const QueueClock* clock = nullptr;
  BounceOptions bounces;  // DSNs for permanent failures (mode digest by default)
  // Addresses suppressed while the delivery runs (the admin listener's unsubscribes, the API's
  // adds; in a cluster also the other nodes'); null: none (a cluster's delivery makes its own).
  std::shared_ptr<SuppressionFeed> suppression_feed;
  // The operator's holds (paused, cancelled campaigns; paused domains); null: jobs::run_delivery
  // loads those recorded in the queue (storage/holds.h).
  std::shared_ptr<const DeliveryControl> control;
  // A reload's DKIM keys and throttle rules (`ringmta serve` on SIGHUP); null: none.
  std::shared_ptr<const RouteUpdates> route_updates;
};

constexpr Millis kStorageFiguresEvery = 2000;  // RocksDB properties for the metrics

DeliverySummary deliver(storage::Queue& queue, const RouteConfig& route,
                        const DeliveryOptions& options);

}  // namespace ringmta::engine
