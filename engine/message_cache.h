// MessageCache: a shard's parsed message templates by message id, loaded from the queue on first
// use. A newsletter has one message and millions of recipients, but every DSN is a message of its
// own (one recipient each), so the cache is bounded: past kMaxCached entries a miss first drops
// the DSNs, else everything (templates reload from RocksDB). A pointer from get() is valid until
// the next get() of another id.
// It may not render or deliver.
#pragma once

#include <memory>
#include <unordered_map>

#include "message/template.h"
#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::engine {

struct LoadedMessage {
  storage::StoredMessage stored;
  message::MessageTemplate tpl;
};

class MessageCache {
 public:
  explicit MessageCache(const storage::Queue& queue) : queue_(queue) {}
  Result<const LoadedMessage*> get(storage::MessageId id);
  std::size_t size() const { return loaded_.size(); }
  static constexpr std::size_t kMaxCached = 256;

 private:
  const storage::Queue& queue_;
  std::unordered_map<storage::MessageId, std::unique_ptr<LoadedMessage>> loaded_;
};

}  // namespace ringmta::engine
