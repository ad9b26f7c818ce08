// `ringmta bounces ingest PATH...`: DSNs and ARF complaints that came back to the envelope Sender
// (.eml files, directories of them, or Maildirs) fed to the failure records and the suppression
// list. Flags and printing only: the attribution and recording are jobs/bounces_ingest's.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bounce/classify.h"
#include "cli/commands.h"
#include "cli/open_queue.h"
#include "cli/output.h"
#include "cli/report.h"
#include "jobs/bounces_ingest.h"
#include "util/time.h"

namespace ringmta::cli {
namespace {

struct BouncesOptions {
  std::string queue_dir = "./ringmta-queue";
  std::vector<std::string> paths;
  std::vector<std::string> rules;
  bool no_suppress = false;
  bool json = false;
};

void print_json(const jobs::BouncesIngested& in) {
  for (const auto& f : in.failures) {
    nlohmann::json j;
    j["file"] = f.file;
    j["recipient"] = f.recipient;
    j["campaign"] = f.campaign;
    j["category"] = f.category;
    j["hard"] = f.hard;
    j["reply"] = f.reply;
    j["verp"] = f.verp;
    std::printf("%s\n", dump(j).c_str());
  }
  nlohmann::json j;
  j["reports"] = in.reports;
  j["unsubscribes"] = in.unsubscribes.size();
  j["recorded"] = in.failures.size();
  j["suppressed"] = in.suppressed();
  j["ignored"] = in.ignored;
  j["unreadable"] = in.problems.size();
  j["by_category"] = in.by_category;
  std::printf("%s\n", dump(j).c_str());
}

void print_text(const jobs::BouncesIngested& in) {
  const std::size_t recorded = in.failures.size();
  std::printf(
      "%llu report%s read: %zu failure%s recorded, %llu suppressed, %llu not failures; %zu file%s "
      "unreadable\n",
      static_cast<unsigned long long>(in.reports), in.reports == 1 ? "" : "s", recorded,
      recorded == 1 ? "" : "s", static_cast<unsigned long long>(in.suppressed()),
      static_cast<unsigned long long>(in.ignored), in.problems.size(),
      in.problems.size() == 1 ? "" : "s");
  for (const auto& [category, n] : in.by_category) {
    std::printf("  %-20s %llu\n", category.c_str(), static_cast<unsigned long long>(n));
  }
  if (!in.unsubscribes.empty()) {
    std::printf("%zu unsubscribe request%s by mail: suppressed\n", in.unsubscribes.size(),
                in.unsubscribes.size() == 1 ? "" : "s");
  }
}

}  // namespace

Command add_bounces_command(CLI::App& app) {
  auto* sub = app.add_subcommand("bounces", "Reports that came back: DSNs and complaints");
  sub->require_subcommand(1);
  auto o = std::make_shared<BouncesOptions>();
  auto* ingest = sub->add_subcommand(
      "ingest",
      "Read DSNs / ARF complaints (.eml files, directories, Maildirs): failure records for their "
      "campaign, hard bounces and complaints onto the suppression list");
  ingest->add_option("paths", o->paths, "Files, directories or Maildirs")->required();
  ingest->add_option("--queue", o->queue_dir, "The RocksDB queue directory");
  ingest->add_option("--rules", o->rules, "A TOML bounce rule file (repeatable)")
      ->allow_extra_args(false);
  ingest->add_flag("--no-suppress", o->no_suppress, "Record failures only; suppress nothing");
  ingest->add_flag("--json", o->json, "One JSON object per recipient found, then a summary");
  return {sub, [=]() -> int {
            bounce::Classifier classifier;
            for (const auto& path : o->rules) {
              if (auto ok = classifier.load_rules_file(path); !ok) {
                return usage_error("--rules " + ok.error().message);
              }
            }
            auto opened = open_existing_queue(o->queue_dir);
            if (!opened) return usage_error(opened.error().message);
            auto ingested = jobs::ingest_bounces(*opened.value(), classifier, o->paths,
                                                 !o->no_suppress, unix_now());
            if (!ingested) return usage_error(ingested.error().message);
            for (const auto& p : ingested->problems)
              std::fprintf(stderr, "ringmta: %s\n", p.c_str());
            if (o->json) {
              print_json(*ingested);
            } else {
              print_text(*ingested);
            }
            return ingested->problems.empty() ? 0 : kSomeFailed;
          }};
}

}  // namespace ringmta::cli
