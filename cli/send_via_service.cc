// send_via_service (see send_via_service.h).
#include "cli/send_via_service.h"

#include <cstdio>
#include <memory>

#include "cli/report.h"
#include "message/csv.h"

namespace ringmta::cli {

int send_via_service(const RunningService& service, const jobs::CampaignInput& input,
                     const std::string& queue_dir) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"message", input.raw_message},
      {"verp", input.verp ? "true" : "false"},
      {"ignore_suppression", input.skip_suppressed ? "false" : "true"},
      {"new_campaign", input.new_campaign ? "true" : "false"}};
  if (input.campaign_given) fields.emplace_back("campaign", input.campaign);
  if (!input.sender.empty()) fields.emplace_back("sender", input.sender);
  if (!input.list.unsubscribe_url.empty()) {
    fields.emplace_back("unsubscribe_url", input.list.unsubscribe_url);
  }
  if (!input.list.unsubscribe_mailto.empty()) {
    fields.emplace_back("unsubscribe_mailto", input.list.unsubscribe_mailto);
  }
  if (!input.list.list_id.empty()) fields.emplace_back("list_id", input.list.list_id);
  std::fprintf(stderr, "--queue %s is held by ringmta serve: handing the campaign to it (%s)\n",
               queue_dir.c_str(), service.api.c_str());
  auto answer =
      upload_to_service(service, "/api/v1/campaigns",
                        http::multipart_form(fields, {{"recipients", input.recipients_path}}));
  if (!answer) return usage_error(answer.error().message);
  const nlohmann::json listed = (*answer)["rejected_rows"];
  const uint64_t rejected = answer->value("rejected", uint64_t{0});
  const std::string rejects_path =
      input.rejects_path.empty() ? input.recipients_path + ".rejects.csv" : input.rejects_path;
  if (!listed.empty()) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(std::fopen(rejects_path.c_str(), "wb"),
                                                        std::fclose);
    if (out) {
      std::string text = "line,reason,email\n";
      for (const auto& r : listed) {
        text += std::to_string(r.value("line", 0UL)) + ",";
        message::append_csv_field(text, r.value("reason", ""));
        text += ",";
        message::append_csv_field(text, r.value("email", ""));
        text += "\n";
      }
      std::fwrite(text.data(), 1, text.size(), out.get());
    }
  }
  std::string where;
  if (!listed.empty()) {
    where = listed.size() < rejected
                ? ", the first " + std::to_string(listed.size()) + " in " + rejects_path
                : ", see " + rejects_path;
  }
  const std::string campaign = answer->value("campaign", "");
  std::fprintf(stderr,
               "queued %llu recipients (%llu rows rejected%s, %llu duplicates, %llu suppressed) "
               "as campaign %s; the service delivers them: `ringmta queue --queue %s --campaign "
               "%s` shows how far it is\n",
               static_cast<unsigned long long>(answer->value("accepted", uint64_t{0})),
               static_cast<unsigned long long>(rejected), where.c_str(),
               static_cast<unsigned long long>(answer->value("duplicates", uint64_t{0})),
               static_cast<unsigned long long>(answer->value("suppressed", uint64_t{0})),
               campaign.c_str(), queue_dir.c_str(), campaign.c_str());
  return 0;
}

}  // namespace ringmta::cli
