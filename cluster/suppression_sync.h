// SuppressionSync: the suppression list shared by the nodes of a cluster through one Redis stream
// (PREFIX:suppressions). Each node publishes its own additions — hard bounces, complaints,
// one-click and mailed unsubscribes, API and CLI adds — from the local list's outbox (written in
// the same batch as the addition, so a crash cannot lose one), and reads the others' additions
// after the last stream entry it applied, whose id it keeps in its queue in the same write as the
// entries: a node that was down (or cut off from Redis) catches up where it stopped. The shards
// then find a recipient whose address arrived this way at their next fetch (the list grew after
// it was queued), as for any other late addition.
// Removals stay local (`suppress remove` on each node that should mail the address again).
// It may not: decide what is suppressed (bounce/ and the commands do) or touch a shard.
#pragma once

#include <cstdint>
#include <string>

#include "cluster/redis_connection.h"
#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::cluster {

class SuppressionSync {
 public:
  SuppressionSync(storage::Queue& queue, std::string prefix, std::string node);

  // This node's additions from the outbox to the stream (up to a batch a call); how many.
  Result<uint64_t> publish(RedisConnection& redis);
  // The other nodes' additions since the last one applied (up to a batch a call); how many.
  Result<uint64_t> pull(RedisConnection& redis);

  static constexpr std::size_t kBatch = 500;

 private:
  storage::Queue& queue_;
  std::string stream_;      // PREFIX:suppressions
  std::string cursor_key_;  // the queue record holding the last applied stream id
  std::string node_;
  std::string cursor_;  // "" until read from the queue
};

}  // namespace ringmta::cluster
