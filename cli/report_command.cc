// `ringmta report --campaign ID`: a campaign's permanent failures from the failure records
// (storage/records.h): counts by bounce category, or with --bounces the CSV a list owner cleans
// a list with (recipient, category, hard, reply, time). Wiring only.
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "cli/open_queue.h"
#include "cli/output.h"
#include "cli/report.h"
#include "message/csv.h"
#include "storage/records.h"

namespace ringmta::cli {
namespace {

struct ReportOptions {
  std::string queue_dir = "./ringmta-queue";
  std::string campaign;
  std::string output;  // "" = stdout
  bool bounces = false;
  bool json = false;
};

int write_bounces(const storage::Queue& q, const ReportOptions& o) {
  std::FILE* out = stdout;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(nullptr, std::fclose);
  if (!o.output.empty()) {
    file.reset(std::fopen(o.output.c_str(), "wb"));
    if (!file) return usage_error("cannot write " + o.output);
    out = file.get();
  }
  std::string line = "recipient,category,hard,reply,time\n";
  uint64_t rows = 0;
  bool write_failed = std::fputs(line.c_str(), out) < 0;
  auto visited = storage::visit_failures(q, o.campaign, [&](const storage::FailureRecord& r) {
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
    write_failed = std::fwrite(line.data(), 1, line.size(), out) != line.size();
    return !write_failed;
  });
  if (!visited) return usage_error(visited.error().message);
  if (file && std::fclose(file.release()) != 0) write_failed = true;
  if (write_failed)
    return usage_error("writing " + (o.output.empty() ? "stdout" : o.output) + " failed");
  if (!o.output.empty()) {
    std::fprintf(stderr, "%llu bounced recipient%s of campaign %s written to %s\n",
                 static_cast<unsigned long long>(rows), rows == 1 ? "" : "s",
                 printable(o.campaign).c_str(), o.output.c_str());
  }
  return 0;
}

int summarize(storage::Queue& q, const ReportOptions& o) {
  std::map<std::string, uint64_t> by_category;
  uint64_t total = 0, hard = 0;
  auto visited = storage::visit_failures(q, o.campaign, [&](const storage::FailureRecord& r) {
    ++by_category[r.category];
    ++total;
    hard += r.hard ? 1 : 0;
    return true;
  });
  if (!visited) return usage_error(visited.error().message);
  // Unsubscribes are suppression entries, not failures: counted from the list.
  uint64_t unsubscribed = 0;
  auto listed = storage::SuppressionList(q).list([&](const storage::SuppressionEntry& e) {
    if (e.category == "unsubscribe" && e.campaign == o.campaign) ++unsubscribed;
    return true;
  });
  if (!listed) return usage_error(listed.error().message);
  auto size = q.campaign_size(o.campaign);
  if (!size) return usage_error(size.error().message);
  if (!*size && total == 0 && unsubscribed == 0) {
    return usage_error("campaign " + printable(o.campaign) +
                       ": no such campaign in this queue (the id `send` printed, e.g. "
                       "\"campaign c6b1...\", or the one given with --campaign)");
  }
  if (o.json) {
    nlohmann::json j;
    j["campaign"] = o.campaign;
    j["failed"] = total;
    j["hard"] = hard;
    j["by_category"] = by_category;
    j["unsubscribed"] = unsubscribed;
    std::printf("%s\n", dump(j).c_str());
    return 0;
  }
  std::printf("campaign %s: %llu permanent failure%s (%llu hard)\n", printable(o.campaign).c_str(),
              static_cast<unsigned long long>(total), total == 1 ? "" : "s",
              static_cast<unsigned long long>(hard));
  for (const auto& [category, n] : by_category) {
    std::printf("  %-20s %llu\n", category.c_str(), static_cast<unsigned long long>(n));
  }
  if (total > 0)
    std::printf("The list: ringmta report --campaign %s --bounces\n", o.campaign.c_str());
  std::printf("%llu unsubscribed (one-click or by mail; on the suppression list)\n",
              static_cast<unsigned long long>(unsubscribed));
  return 0;
}

}  // namespace

Command add_report_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "report", "A campaign's permanent failures: counts by category, or --bounces as CSV");
  auto o = std::make_shared<ReportOptions>();
  sub->add_option("--queue", o->queue_dir, "The RocksDB queue directory");
  sub->add_option("--campaign", o->campaign, "The campaign")->required();
  sub->add_flag("--bounces", o->bounces,
                "Write the bounced recipients as CSV: recipient,category,hard,reply,time");
  sub->add_option("--output", o->output, "With --bounces: write to this file, not stdout");
  sub->add_flag("--json", o->json, "Counts as one JSON object");
  return {sub, [=]() -> int {
            auto opened = open_existing_queue(o->queue_dir);
            if (!opened) return usage_error(opened.error().message);
            return o->bounces ? write_bounces(*opened.value(), *o) : summarize(*opened.value(), *o);
          }};
}

}  // namespace ringmta::cli
