// MessageCache: a shard's parsed message templates by message id, loaded from the queue on first
// use. A newsletter has one message and millions of recipients, so this stays tiny.
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

 private:
  const storage::Queue& queue_;
  std::unordered_map<storage::MessageId, std::unique_ptr<LoadedMessage>> loaded_;
};

}  // namespace ringmta::engine
