// SuppressionSync: the suppression list shared by the nodes of a cluster through one Redis stream
// (PREFIX:suppressions). Each node publishes its own additions and removals — hard bounces,
// complaints, one-click and mailed unsubscribes, API and CLI adds — from the local list's outbox
// (written in the same batch as the addition, so a crash cannot lose one), and reads the others'
// additions after the last stream entry it applied, whose id it keeps in its queue in the same
// write as the entries: a node that was down (or cut off from Redis) catches up where it stopped.
// Each address applied is also told to `applied` (the running delivery's SuppressionFeed), so that
// a recipient already fetched and waiting in a shard's backlog is withdrawn before it is sent; one
// still in storage is found at the shard's next fetch. Removals (`suppress remove`, the API's
// DELETE) go the same way: an address taken off one node's list is taken off the others' (the last
// word on an address, in stream order, wins). It may not: decide what is suppressed (bounce/ and
// the commands do) or touch a shard.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "cluster/redis_connection.h"
#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::cluster {

class SuppressionSync {
 public:
  SuppressionSync(storage::Queue& queue, std::string prefix, std::string node);

  // This node's additions from the outbox to the stream (up to a batch a call); how many.
  Result<uint64_t> publish(RedisConnection& redis);
  // The other nodes' additions and removals since the last one applied (up to a batch a call),
  // each added address told to `applied` (if set) once durably in the list; how many changes.
  Result<uint64_t> pull(RedisConnection& redis,
                        const std::function<void(std::string_view address)>& applied = {});

  static constexpr std::size_t kBatch = 500;

 private:
  storage::Queue& queue_;
  std::string stream_;      // PREFIX:suppressions
  std::string cursor_key_;  // the queue record holding the last applied stream id
  std::string node_;
  std::string cursor_;  // "" until read from the queue
};

}  // namespace ringmta::cluster
