// Holds: what an operator keeps from being sent, recorded in the queue so that it outlasts the
// process — paused campaigns (resumed where they stopped), cancelled campaigns (what is left of
// them is removed), paused destination domains (an answer to a provider's block). Kept in the
// queue's records:
//
//   "hold/campaign/" + id      -> "paused" | "cancelled"
//   "hold/domain/" + domain    -> "paused"            (lower case)
//
// Writes are synced. It may not: decide what a shard does with a held recipient (engine/).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::storage {

enum class CampaignHold { kNone, kPaused, kCancelled };

struct Holds {
  std::vector<std::string> paused_campaigns;
  std::vector<std::string> cancelled_campaigns;
  std::vector<std::string> paused_domains;
};

Result<Holds> load_holds(const Queue& queue);
Result<CampaignHold> campaign_hold(const Queue& queue, std::string_view campaign);
// kNone removes the record.
Result<void> set_campaign_hold(Queue& queue, std::string_view campaign, CampaignHold hold);
Result<void> set_domain_paused(Queue& queue, std::string_view domain, bool paused);

}  // namespace ringmta::storage
