// control_state: the queue's recorded holds as a DeliveryControl::State.
#include "engine/delivery_control.h"

namespace ringmta::engine {

Result<DeliveryControl::State> control_state(const storage::Queue& queue) {
  auto loaded = storage::load_holds(queue);
  if (!loaded) return loaded.error();
  const storage::Holds& holds = *loaded;
  DeliveryControl::State state;
  for (const auto* list : {&holds.paused_campaigns, &holds.cancelled_campaigns}) {
    auto& into = list == &holds.paused_campaigns ? state.paused_messages : state.cancelled_messages;
    for (const std::string& campaign : *list) {
      auto ids = queue.campaign_messages(campaign);
      if (!ids) return ids.error();
      into.insert(ids->begin(), ids->end());
    }
  }
  state.paused_domains.insert(holds.paused_domains.begin(), holds.paused_domains.end());
  return state;
}

}  // namespace ringmta::engine
