// Aggregator: the supervisor's side of metrics. Every update() it sums the shards' counters and
// histograms, takes their outcome tallies into the bounded DomainTable and per-campaign counts,
// samples the delivery rate, keeps the queue depth from outcomes (no scan), keeps the routes'
// states and throttle changes the shards report (and turns the smart host's pauses into throttle
// events), and builds an immutable Snapshot for the admin listener.
// It may not: run on a shard thread, read the queue (its owner passes storage figures in), or
// block a shard (it only reads their atomics and takes their hand-offs).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "metrics/counters.h"
#include "metrics/domain_table.h"
#include "metrics/rate_window.h"
#include "metrics/snapshot.h"

namespace ringmta::metrics {

struct AggregatorConfig {
  std::size_t labeled_domains = kDefaultLabeledDomains;
  uint64_t enqueued = 0;    // recipients this process queued
  uint64_t suppressed = 0;  // recipients this process skipped: on the suppression list
  std::map<std::string, uint64_t> campaign_sizes;  // recipients per campaign, where known
  // The size of a campaign first seen in the outcomes and not in campaign_sizes (queued while the
  // delivery runs, e.g. through the service's API); asked once per campaign. Null: unknown.
  std::function<std::optional<uint64_t>(const std::string& campaign)> campaign_size_of;
  std::string route;  // the smart host's route name, "HOST:PORT"; empty for direct delivery
  std::size_t labeled_routes = 50;  // routes with their own row and series (the rest: "other")
  uint64_t max_connections = 0;
  uint64_t max_messages_per_connection = 0;
  uint64_t queue_ready_at_start = 0, queue_deferred_at_start = 0;
  // One-click unsubscribes the admin listener recorded (read at each update; thread-safe).
  std::function<uint64_t()> unsubscribed;
  // Snapshot::category_names and reply_stage_names: what the engine counts by index.
  std::vector<std::string> category_names, reply_stage_names;
};

class Aggregator {
 public:
  // campaign_of: a message id's campaign (asked once per message id).
  Aggregator(AggregatorConfig config, std::vector<const ShardCounters*> shards,
             std::function<std::string(uint64_t)> campaign_of);

  void update(Millis now, UnixSeconds unix_now);
  void set_storage(uint64_t live_bytes, uint64_t pending_compaction_bytes);
  void set_cluster(ClusterSnapshot cluster) { cluster_ = std::move(cluster); }
  // The route's state as the shards report it; a change is recorded as a throttle event.
  void set_route_state(bool paused, const std::string& diagnosis, UnixSeconds unix_now);
  std::shared_ptr<const Snapshot> snapshot(bool finished) const;

 private:
  static constexpr std::size_t kMaxEvents = 100;
  static constexpr std::size_t kChartSeconds = 300;

  void add_event(ThrottleEvent e);
  std::vector<RouteSnapshot> route_rows() const;

  AggregatorConfig config_;
  std::vector<const ShardCounters*> shards_;
  std::function<std::string(uint64_t)> campaign_of_;
  Millis started_ = 0;
  Millis last_update_ = 0;
  UnixSeconds unix_at_ = 0;
  Totals totals_;
  std::vector<uint64_t> busy_micros_;
  std::vector<double> utilisation_;
  DomainTable domains_;
  std::unordered_map<uint64_t, std::string> campaign_names_;
  std::map<std::string, OutcomeCounts> campaigns_;
  std::map<UnixSeconds, uint64_t> deferred_until_;
  RateWindow delivered_;
  LastReply last_reply_;
  uint64_t live_bytes_ = 0, pending_compaction_bytes_ = 0;
  ClusterSnapshot cluster_;
  bool paused_ = false;
  std::string diagnosis_;
  std::vector<ThrottleEvent> events_;
  std::map<std::pair<std::string, std::size_t>, RouteState> route_states_;  // by (name, shard)
  std::set<std::string> labeled_routes_;
};

}  // namespace ringmta::metrics
