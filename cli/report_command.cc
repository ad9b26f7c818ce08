// `ringmta report --campaign ID`: a campaign's permanent failures from the failure records
// (storage/records.h): counts by bounce category, or with --bounces the CSV a list owner cleans
// a list with (recipient, category, hard, reply, time) — from the queue, or from the API of the
// `ringmta serve` that holds it. Wiring only.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "cli/open_queue.h"
#include "cli/output.h"
#include "cli/report.h"
#include "cli/service_client.h"
#include "http/url.h"
#include "jobs/campaign_report.h"
#include "service/api.h"

namespace ringmta::cli {
namespace {

struct ReportOptions {
  std::string queue_dir = "./ringmta-queue";
  std::string campaign;
  std::string output;  // "" = stdout
  bool bounces = false;
  bool json = false;
};

// The CSV from the queue, or from the running service holding it.
int write_bounces(const ReportOptions& o, storage::Queue* q, const RunningService* service) {
  std::FILE* out = stdout;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(nullptr, std::fclose);
  if (!o.output.empty()) {
    file.reset(std::fopen(o.output.c_str(), "wb"));
    if (!file) return usage_error("cannot write " + o.output);
    out = file.get();
  }
  bool write_failed = false;
  auto write = [&](std::string_view piece) {
    write_failed = std::fwrite(piece.data(), 1, piece.size(), out) != piece.size();
    return !write_failed;
  };
  uint64_t rows = 0;
  if (q != nullptr) {
    auto written = jobs::bounces_csv(*q, o.campaign, write);
    if (!written) return usage_error(written.error().message);
    rows = *written;
  } else {
    auto csv = fetch_from_service(
        *service, "/api/v1/campaigns/" + http::percent_encode(o.campaign) + "/bounces");
    if (!csv) return usage_error(csv.error().message);
    write(*csv);
    rows = static_cast<uint64_t>(std::count(csv->begin(), csv->end(), '\n'));
    rows -= rows > 0 ? 1 : 0;  // the header
  }
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

// The counts from the queue, or from the running service holding it (the same JSON).
int summarize(const ReportOptions& o, storage::Queue* q, const RunningService* service) {
  nlohmann::json j;
  if (q != nullptr) {
    auto report = jobs::campaign_report(*q, o.campaign);
    if (!report) return usage_error(report.error().message);
    if (!report->known) {
      return usage_error("campaign " + printable(o.campaign) +
                         ": no such campaign in this queue (the id `send` printed, e.g. "
                         "\"campaign c6b1...\", or the one given with --campaign)");
    }
    j = service::report_json(o.campaign, *report);
  } else {
    auto answer = ask_service(*service, "GET",
                              "/api/v1/campaigns/" + http::percent_encode(o.campaign) + "/report");
    if (!answer) return usage_error(answer.error().message);
    j = std::move(*answer);
  }
  if (o.json) {
    std::printf("%s\n", dump(j).c_str());
    return 0;
  }
  const uint64_t total = j.value("failed", uint64_t{0}), hard = j.value("hard", uint64_t{0});
  std::printf("campaign %s: %llu permanent failure%s (%llu hard)\n", printable(o.campaign).c_str(),
              static_cast<unsigned long long>(total), total == 1 ? "" : "s",
              static_cast<unsigned long long>(hard));
  const nlohmann::json categories = j.contains("by_category") && j["by_category"].is_object()
                                        ? j["by_category"]
                                        : nlohmann::json::object();
  for (const auto& [category, n] : categories.items()) {
    std::printf("  %-20s %llu\n", category.c_str(),
                static_cast<unsigned long long>(n.get<uint64_t>()));
  }
  if (total > 0)
    std::printf("The list: ringmta report --campaign %s --bounces\n", o.campaign.c_str());
  std::printf("%llu unsubscribed (one-click or by mail; on the suppression list)\n",
              static_cast<unsigned long long>(j.value("unsubscribed", uint64_t{0})));
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
            if (!opened && opened.error().kind == ErrorKind::kInUse) {
              // A running `ringmta serve` holds the queue: its API answers.
              auto service = running_service(o->queue_dir);
              if (!service) return usage_error(service.error().message);
              if (*service) {
                return o->bounces ? write_bounces(*o, nullptr, &**service)
                                  : summarize(*o, nullptr, &**service);
              }
            }
            if (!opened) return usage_error(opened.error().message);
            return o->bounces ? write_bounces(*o, opened.value().get(), nullptr)
                              : summarize(*o, opened.value().get(), nullptr);
          }};
}

}  // namespace ringmta::cli
