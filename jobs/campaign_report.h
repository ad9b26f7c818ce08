// campaign_report and bounces_csv: what `ringmta report` and the service's API
// (GET /api/v1/campaigns/{id}/report and /bounces) tell of one campaign — its permanent failures
// by bounce category (the failure records, storage/records.h), and its unsubscribes (the
// suppression list's entries of category "unsubscribe" for it); or the CSV a list owner cleans a
// list with. It may not print or format for people (the command and the API do).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::jobs {

struct CampaignReport {
  uint64_t failed = 0;
  uint64_t hard = 0;
  std::map<std::string, uint64_t> by_category;
  uint64_t unsubscribed = 0;
  // The queue knows the campaign: it recorded its size, a failure or an unsubscribe.
  bool known = false;
};

Result<CampaignReport> campaign_report(storage::Queue& queue, std::string_view campaign);

// "recipient,category,hard,reply,time" and a row per failure record, handed to out in pieces
// (out returning false stops). Returns the rows written.
Result<uint64_t> bounces_csv(const storage::Queue& queue, std::string_view campaign,
                             const std::function<bool(std::string_view)>& out);

}  // namespace ringmta::jobs
