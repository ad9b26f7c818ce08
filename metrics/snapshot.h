// Snapshot: everything the admin listener shows, as plain values. The supervisor builds one every
// few hundred milliseconds from the shards' counters and publishes it; scrapes and the status page
// read only snapshots, so they never touch a shard or the queue.
// It may not: hold references into live engine state, or compute anything at read time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "metrics/counters.h"
#include "metrics/domain_table.h"
#include "metrics/histogram.h"
#include "util/time.h"

namespace ringmta::metrics {

struct RouteSnapshot {
  std::string name;  // the smart host "HOST:PORT", an MX host set "MX mx1.example.net", "other"
  uint64_t connections_open = 0;
  uint64_t connections_allowed = 0;  // 0 while paused; lower than the limit after slow-downs
  uint64_t max_connections = 0;      // the configured limit
  uint64_t max_messages_per_connection = 0;
  double rate_factor = 1;  // share of the configured message rate allowed now
  double messages_per_second = 0, messages_per_minute = 0, messages_per_hour = 0;  // 0: none
  uint64_t sessions_ok = 0, sessions_failed = 0;
  UnixSeconds backing_off_until = 0;  // backed off until then (0: not)
  bool paused = false;
  std::string diagnosis;  // why it paused or backed off, if it did
  LastReply last;         // the last refusal (at == 0: none)
};

struct CampaignSnapshot {
  std::string id;
  uint64_t total = 0;  // recipients in the job; 0 = unknown
  OutcomeCounts counts;
};

struct Rates {
  double m1 = 0, m5 = 0, m15 = 0;  // per second
};

// This node's view of its cluster (cluster/agent.h); enabled == false: not in a cluster.
struct ClusterSnapshot {
  bool enabled = false;
  std::string node;   // this node's id
  std::string redis;  // HOST:PORT
  bool redis_up = false;
  uint64_t live_nodes = 0;  // as last counted (0: never)
  uint64_t redis_calls = 0;
  uint64_t tokens_leased = 0;
  uint64_t fallbacks = 0;  // times Redis was lost and the node fell back to its share
  uint64_t suppressions_published = 0, suppressions_received = 0;
  std::string last_error;  // why Redis was last lost
  bool operator==(const ClusterSnapshot&) const = default;
};

struct Snapshot {
  UnixSeconds at = 0;
  double uptime_seconds = 0;
  bool finished = false;  // the job is over (the listener lingers)
  Totals totals;
  uint64_t enqueued = 0;
  uint64_t suppressed = 0;    // skipped at enqueue: on the suppression list
  uint64_t unsubscribed = 0;  // one-click unsubscribes recorded by the admin listener
  uint64_t queue_ready = 0, queue_deferred = 0;
  UnixSeconds next_retry_at = 0;  // when the first deferred recipient falls due (0: none known)
  uint64_t rocksdb_live_bytes = 0, rocksdb_pending_compaction_bytes = 0;
  std::vector<double> loop_utilisation;  // per shard, 0..1 over the last sampling interval
  HistogramSnapshot delivery_latency{kLatencyBuckets};
  HistogramSnapshot transaction_time{kSecondsBuckets};
  HistogramSnapshot connect_time{kSecondsBuckets};
  HistogramSnapshot dns_lookup_time{kSecondsBuckets};
  HistogramSnapshot queue_fetch_time{kSecondsBuckets};
  Rates delivered_rate;
  std::vector<double> delivered_per_second;  // the last minutes, oldest first, for the chart
  std::vector<RouteSnapshot> routes;
  std::vector<CampaignSnapshot> campaigns;
  std::vector<DomainRow> domains;  // bounded; "other" last
  std::vector<ThrottleEvent> throttle_events;
  ClusterSnapshot cluster;
  // The labels of Totals::failed_by / deferred_by (the classifier's categories, by index) and of
  // Totals::replies (the SMTP stages, by index; "" for a stage without replies).
  std::vector<std::string> category_names, reply_stage_names;
};

}  // namespace ringmta::metrics
