// Holds (see holds.h): their record keys and values.
#include "storage/holds.h"

#include <array>

#include "util/strings.h"

namespace ringmta::storage {
namespace {

constexpr std::string_view kCampaignPrefix = "hold/campaign/";
constexpr std::string_view kDomainPrefix = "hold/domain/";

std::string campaign_key(std::string_view campaign) {
  return std::string(kCampaignPrefix).append(campaign);
}

}  // namespace

Result<Holds> load_holds(const Queue& queue) {
  Holds holds;
  auto campaigns =
      queue.scan_records(kCampaignPrefix, [&](std::string_view key, std::string_view value) {
        const std::string campaign(key.substr(kCampaignPrefix.size()));
        if (value == "paused") holds.paused_campaigns.push_back(campaign);
        if (value == "cancelled") holds.cancelled_campaigns.push_back(campaign);
        return true;
      });
  if (!campaigns) return campaigns.error();
  auto domains = queue.scan_records(kDomainPrefix, [&](std::string_view key, std::string_view) {
    holds.paused_domains.emplace_back(key.substr(kDomainPrefix.size()));
    return true;
  });
  if (!domains) return domains.error();
  return holds;
}

Result<CampaignHold> campaign_hold(const Queue& queue, std::string_view campaign) {
  const std::array<std::string, 1> key{campaign_key(campaign)};
  auto values = queue.get_records(key);
  if (!values) return values.error();
  const auto& v = values->front();
  if (!v) return CampaignHold::kNone;
  return *v == "cancelled" ? CampaignHold::kCancelled : CampaignHold::kPaused;
}

Result<void> set_campaign_hold(Queue& queue, std::string_view campaign, CampaignHold hold) {
  const std::string key = campaign_key(campaign);
  if (hold == CampaignHold::kNone) return queue.write_records({}, std::span(&key, 1));
  const std::pair<std::string, std::string> put{
      key, hold == CampaignHold::kPaused ? "paused" : "cancelled"};
  return queue.write_records(std::span(&put, 1), {});
}

Result<void> set_domain_paused(Queue& queue, std::string_view domain, bool paused) {
  const std::string key = std::string(kDomainPrefix).append(lower(domain));
  if (!paused) return queue.write_records({}, std::span(&key, 1));
  const std::pair<std::string, std::string> put{key, "paused"};
  return queue.write_records(std::span(&put, 1), {});
}

}  // namespace ringmta::storage
