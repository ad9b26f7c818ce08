// MessageCache implementation.
#include "engine/message_cache.h"

namespace ringmta::engine {

Result<const LoadedMessage*> MessageCache::get(storage::MessageId id) {
  if (auto it = loaded_.find(id); it != loaded_.end()) return it->second.get();
  auto stored = queue_.get_message(id);
  if (!stored) return stored.error();
  auto tpl = message::MessageTemplate::parse(stored->raw,
                                             /*merge_fields=*/!stored->is_dsn && !stored->submitted,
                                             /*keep_identity=*/stored->submitted);
  if (!tpl) return make_error("message " + std::to_string(id) + ": " + tpl.error().message);
  auto loaded = std::make_unique<LoadedMessage>(
      LoadedMessage{std::move(stored.value()), std::move(tpl.value())});
  const LoadedMessage* ptr = loaded.get();
  if (loaded_.size() >= kMaxCached) {
    // One-off messages (DSNs, submissions) go first: a campaign's template is used again.
    std::erase_if(loaded_, [](const auto& entry) {
      return entry.second->stored.is_dsn || entry.second->stored.submitted;
    });
    if (loaded_.size() >= kMaxCached) loaded_.clear();
  }
  loaded_.emplace(id, std::move(loaded));
  return ptr;
}

}  // namespace ringmta::engine
