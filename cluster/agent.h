// ClusterAgent: the one thread of a node that talks to Redis for the cluster-wide rules (throttle
// rules with `cluster = true`). Every few milliseconds it looks at the process's shared allowances
// (scheduler::SharedAllowances) and, for each cluster-wide one with demand, leases message tokens
// (rate_lease.h) in batches and sets how many connection leases the node holds
// (connection_lease.h); every second it renews the node's heartbeat (membership.h), which counts
// the live nodes. The shards never wait for Redis: they take what the agent has put in their
// allowance, lock-free, and a shard refused for want of a lease retries within milliseconds.
//
// When Redis does not answer (down, unreachable, a refused AUTH), delivery goes on: every
// cluster-wide allowance falls back to this node's share of its limits (the limit divided by the
// live nodes last counted, or by AgentOptions::fallback_nodes before any count), the agent says so
// once on stderr and in status(), tries Redis again every second, and returns to the shared limits
// when it answers. Leases it held expire in Redis by their TTL.
// Given the node's queue, it also shares the suppression list (suppression_sync.h): this node's
// additions published, the others' applied, a first catch-up before the constructor returns
// (so before any shard sends), then every kSuppressionSyncEvery.
// It may not: block a shard, hold a lock a shard waits on per message, or lose or hold a
// recipient because Redis is away.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "cluster/redis_connection.h"
#include "cluster/suppression_sync.h"
#include "scheduler/shared_allowance.h"
#include "util/time.h"

namespace ringmta::cluster {

struct AgentOptions {
  RedisOptions redis;
  std::string prefix = "ringmta";  // every key is PREFIX:...; one cluster per prefix and Redis
  std::string node;                // this node's id; "" = HOSTNAME:PID
  // Where the other nodes send this node its parts of campaigns (`serve --cluster-listen`), ""
  // for a node that takes none (membership.h).
  std::string url;
  Millis lease_ttl = 10'000;  // connection leases and heartbeats expire this long after renewal
  Millis tick = 2;            // the agent's round
  // A lease of message tokens is this many seconds' worth of the rule's tightest rate (at least
  // one token): what the cluster may overshoot by, per node.
  double batch_seconds = 0.05;
  uint32_t fallback_nodes = 1;  // the live nodes assumed when Redis was never reached
};

struct AgentStatus {
  bool redis_up = false;
  uint32_t live_nodes = 0;     // last counted (0: never)
  uint64_t redis_calls = 0;    // round trips to Redis since the start
  uint64_t tokens_leased = 0;  // message tokens leased since the start
  uint64_t fallbacks = 0;      // times Redis was lost
  uint64_t suppressions_published = 0;
  uint64_t suppressions_received = 0;  // the other nodes' additions applied here
  std::string last_error;              // why Redis was last lost ("" = never)
};

class ClusterAgent {
 public:
  // Starts the agent's thread over `allowances` and, given it, shares `queue`'s suppression list
  // (both must outlive the agent), telling each address suppressed on another node to
  // `suppressed_elsewhere` (the running delivery's feed). Returns after a first round (bounded by
  // the Redis timeout).
  ClusterAgent(AgentOptions options, scheduler::SharedAllowances& allowances,
               storage::Queue* queue = nullptr,
               std::function<void(std::string_view address)> suppressed_elsewhere = {});
  ~ClusterAgent();  // stops: gives back its connection leases and leaves the cluster
  ClusterAgent(const ClusterAgent&) = delete;
  ClusterAgent& operator=(const ClusterAgent&) = delete;

  AgentStatus status() const;
  const std::string& node() const { return options_.node; }

 private:
  struct Rule;  // what the agent keeps per cluster-wide allowance
  void run();
  void round(Millis now);
  bool connect(Millis now);
  void lost(const std::string& why);
  void serve_rule(Rule& rule, Millis now);
  void sync_suppressions(Millis now);
  std::string key(const std::string& what) const { return options_.prefix + ":" + what; }

  AgentOptions options_;
  scheduler::SharedAllowances& allowances_;
  std::unique_ptr<RedisConnection> redis_;
  std::minstd_rand jitter_;  // the rounds' phase (seeded by node and time)
  uint32_t jitter() { return static_cast<uint32_t>(jitter_()); }
  std::map<std::string, std::unique_ptr<Rule>> rules_;
  std::unique_ptr<SuppressionSync> suppressions_;  // null: no queue given
  std::function<void(std::string_view address)> suppressed_elsewhere_;
  Millis next_suppression_sync_ = 0;
  Millis next_connect_ = 0;
  Millis next_heartbeat_ = 0;
  uint32_t live_nodes_ = 0;

  mutable std::mutex status_mutex_;
  AgentStatus status_;

  std::mutex stop_mutex_;
  std::condition_variable stop_wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ringmta::cluster
