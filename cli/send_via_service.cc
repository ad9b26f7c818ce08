// send_via_service (see send_via_service.h).
#include "cli/send_via_service.h"

#include <cstdio>
#include <memory>
#include <vector>

#include "cli/report.h"
#include "message/csv.h"

namespace ringmta::cli {
namespace {

struct LocalReject {
  std::size_t line;
  std::string reason;
  std::string email;
};

}  // namespace

int send_via_service(const RunningService& service, const jobs::CampaignInput& input,
                     const std::string& queue_dir) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> csv(
      std::fopen(input.recipients_path.c_str(), "rb"), std::fclose);
  if (!csv) return usage_error("cannot read --recipients " + input.recipients_path);
  message::CsvReader reader(csv.get());
  message::CsvRecord record;
  std::vector<std::string> header;
  std::vector<std::size_t> lines;  // the CSV line of each recipient sent, by index
  std::vector<LocalReject> rejects;
  nlohmann::json recipients = nlohmann::json::array();
  for (;;) {
    const auto status = reader.next(record);
    if (status == message::CsvReader::Status::kEnd) break;
    if (header.empty()) {
      if (status != message::CsvReader::Status::kRecord) {
        return usage_error(input.recipients_path + ": line " + std::to_string(record.line) +
                           ": bad header row: " + reader.error());
      }
      header = record.fields;
      continue;
    }
    if (status == message::CsvReader::Status::kMalformed) {
      rejects.push_back({record.line, reader.error(), ""});
      continue;
    }
    if (record.fields.size() != header.size()) {
      rejects.push_back({record.line,
                         std::to_string(record.fields.size()) + " columns, expected " +
                             std::to_string(header.size()),
                         ""});
      continue;
    }
    nlohmann::json row = nlohmann::json::object();
    for (std::size_t c = 0; c < header.size(); ++c) row[header[c]] = record.fields[c];
    recipients.push_back(std::move(row));
    lines.push_back(record.line);
  }
  if (std::ferror(csv.get())) return usage_error("read error in " + input.recipients_path);
  nlohmann::json body{{"message", input.raw_message},
                      {"recipients", std::move(recipients)},
                      {"verp", input.verp},
                      {"ignore_suppression", !input.skip_suppressed},
                      {"new_campaign", input.new_campaign}};
  if (input.campaign_given) body["campaign"] = input.campaign;
  if (!input.sender.empty()) body["sender"] = input.sender;
  if (!input.list.unsubscribe_url.empty()) body["unsubscribe_url"] = input.list.unsubscribe_url;
  if (!input.list.unsubscribe_mailto.empty()) {
    body["unsubscribe_mailto"] = input.list.unsubscribe_mailto;
  }
  if (!input.list.list_id.empty()) body["list_id"] = input.list.list_id;
  std::fprintf(stderr, "--queue %s is held by ringmta serve: handing the campaign to it (%s)\n",
               queue_dir.c_str(), service.api.c_str());
  auto answer = ask_service(service, "POST", "/api/v1/campaigns", body);
  if (!answer) return usage_error(answer.error().message);
  for (const auto& r : (*answer)["rejected_rows"]) {
    const long index = r.value("index", -1L);
    rejects.push_back({index >= 0 && static_cast<std::size_t>(index) < lines.size()
                           ? lines[static_cast<std::size_t>(index)]
                           : 0,
                       r.value("reason", ""), r.value("email", "")});
  }
  const std::string rejects_path =
      input.rejects_path.empty() ? input.recipients_path + ".rejects.csv" : input.rejects_path;
  if (!rejects.empty()) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(std::fopen(rejects_path.c_str(), "wb"),
                                                        std::fclose);
    if (out) {
      std::string line = "line,reason,email\n";
      for (const auto& r : rejects) {
        line += std::to_string(r.line) + ",";
        message::append_csv_field(line, r.reason);
        line += ",";
        message::append_csv_field(line, r.email);
        line += "\n";
      }
      std::fwrite(line.data(), 1, line.size(), out.get());
    }
  }
  const std::string campaign = answer->value("campaign", "");
  const uint64_t rejected =
      answer->value("rejected", uint64_t{0}) + (rejects.size() - (*answer)["rejected_rows"].size());
  std::fprintf(stderr,
               "queued %llu recipients (%llu rows rejected%s%s, %llu duplicates, %llu suppressed) "
               "as campaign %s; the service delivers them: `ringmta queue --queue %s --campaign "
               "%s` shows how far it is\n",
               static_cast<unsigned long long>(answer->value("accepted", uint64_t{0})),
               static_cast<unsigned long long>(rejected), rejects.empty() ? "" : ", see ",
               rejects.empty() ? "" : rejects_path.c_str(),
               static_cast<unsigned long long>(answer->value("duplicates", uint64_t{0})),
               static_cast<unsigned long long>(answer->value("suppressed", uint64_t{0})),
               campaign.c_str(), queue_dir.c_str(), campaign.c_str());
  return 0;
}

}  // namespace ringmta::cli
