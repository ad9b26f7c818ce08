// DeliveryControl: the holds (storage/holds.h) a running delivery obeys — the messages of paused
// and of cancelled campaigns, and paused destination domains — as one immutable State that the
// service's API replaces (on its thread) and every shard reads once a tick when the generation
// moved (one atomic load; a new State only then). A shard holds back what is paused (not claimed,
// not sent; resumed, it is fetched again), and removes what is cancelled, its own entries only.
// It may not: write the queue (the caller has recorded the holds, durably, before set()).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>

#include "storage/holds.h"
#include "storage/queue.h"
#include "util/published.h"
#include "util/result.h"

namespace ringmta::engine {

struct DeliveryHolds {
  std::unordered_set<storage::MessageId> paused_messages;
  std::unordered_set<storage::MessageId> cancelled_messages;
  std::unordered_set<std::string> paused_domains;  // lower case

  bool paused(const storage::QueueEntry& entry) const {
    return paused_messages.contains(entry.record.message) ||
           (!paused_domains.empty() && paused_domains.contains(entry.domain));
  }
  bool cancelled(storage::MessageId message) const { return cancelled_messages.contains(message); }
  bool empty() const {
    return paused_messages.empty() && cancelled_messages.empty() && paused_domains.empty();
  }
};

class DeliveryControl : public Published<DeliveryHolds> {
 public:
  using State = DeliveryHolds;
};

// The State of the holds recorded in the queue (storage::load_holds): each held campaign's
// messages, the paused domains.
Result<DeliveryControl::State> control_state(const storage::Queue& queue);

}  // namespace ringmta::engine
