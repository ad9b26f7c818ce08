// campaign_report and bounces_csv (see campaign_report.h).
#include "jobs/campaign_report.h"

#include "message/csv.h"
#include "storage/records.h"
#include "util/time.h"

namespace ringmta::jobs {

Result<CampaignReport> campaign_report(storage::Queue& queue, std::string_view campaign) {
  CampaignReport report;
  auto visited = storage::visit_failures(queue, campaign, [&](const storage::FailureRecord& r) {
    ++report.by_category[r.category];
    ++report.failed;
    report.hard += r.hard ? 1 : 0;
    return true;
  });
  if (!visited) return visited.error();
  // Unsubscribes are suppression entries, not failures: counted from the list.
  auto listed = storage::SuppressionList(queue).list([&](const storage::SuppressionEntry& e) {
    if (e.category == "unsubscribe" && e.campaign == campaign) ++report.unsubscribed;
    return true;
  });
  if (!listed) return listed.error();
  auto size = queue.campaign_size(campaign);
  if (!size) return size.error();
  report.known = size->has_value() || report.failed > 0 || report.unsubscribed > 0;
  return report;
}

Result<uint64_t> bounces_csv(const storage::Queue& queue, std::string_view campaign,
                             const std::function<bool(std::string_view)>& out) {
  std::string line = "recipient,category,hard,reply,time\n";
  uint64_t rows = 0;
  if (!out(line)) return rows;
  auto visited = storage::visit_failures(queue, campaign, [&](const storage::FailureRecord& r) {
    line.clear();
    message::append_csv_field(line, r.recipient);
    line += ',';
    message::append_csv_field(line, r.category);
    line += r.hard ? ",true," : ",false,";
    message::append_csv_field(line, r.reply);
    line += ',';
    line += rfc3339(r.time);
    line += '\n';
    ++rows;
    return out(line);
  });
  if (!visited) return visited.error();
  return rows;
}

}  // namespace ringmta::jobs
