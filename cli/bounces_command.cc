// `ringmta bounces ingest PATH...`: DSNs and ARF complaints that came back to the envelope Sender
// (.eml files, directories of them, or Maildirs) attributed to campaign and recipient and fed to
// the failure records and the suppression list. The recipient comes from a VERP address the
// report was delivered to (message/verp.h) when there is one, else from the report's
// Final-Recipient; the campaign from the VERP message id. Wiring only: parsing is in
// bounce/inbound, classification in bounce/classify, storage in storage/records.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bounce/classify.h"
#include "bounce/inbound.h"
#include "cli/commands.h"
#include "cli/open_queue.h"
#include "cli/output.h"
#include "cli/report.h"
#include "message/verp.h"
#include "storage/records.h"
#include "util/time.h"

namespace ringmta::cli {
namespace {

namespace fs = std::filesystem;

struct BouncesOptions {
  std::string queue_dir = "./ringmta-queue";
  std::vector<std::string> paths;
  std::vector<std::string> rules;
  bool no_suppress = false;
  bool json = false;
};

// Every file to read: a file as given; a directory's regular files (a Maildir's cur/ and new/).
std::vector<fs::path> files_of(const std::vector<std::string>& paths,
                               std::vector<std::string>& bad) {
  std::vector<fs::path> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> dirs = {p};
      if (fs::is_directory(fs::path(p) / "cur", ec) || fs::is_directory(fs::path(p) / "new", ec)) {
        dirs = {fs::path(p) / "cur", fs::path(p) / "new"};
      }
      std::vector<fs::path> found;
      for (const auto& d : dirs) {
        for (const auto& e : fs::directory_iterator(d, ec)) {
          if (e.is_regular_file(ec)) found.push_back(e.path());
        }
      }
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(p, ec)) {
      out.emplace_back(p);
    } else {
      bad.push_back(p + ": no such file or directory");
    }
  }
  return out;
}

// The VERP address among where the report was delivered, if any; its message names the campaign.
std::optional<message::VerpTag> verp_of(const bounce::InboundReport& report) {
  for (const auto& to : report.delivered_to) {
    if (auto tag = message::verp_decode(to)) return tag;
  }
  return std::nullopt;
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
            storage::Queue& q = *opened.value();
            std::vector<std::string> problems;
            const auto files = files_of(o->paths, problems);
            std::map<std::string, uint64_t> by_category;
            uint64_t reports = 0, recorded = 0, suppressed = 0, ignored = 0;
            storage::OutcomeBatch batch;  // failure records and suppression entries, one write
            for (const auto& file : files) {
              std::ifstream in(file, std::ios::binary);
              std::stringstream raw;
              raw << in.rdbuf();
              auto report = bounce::parse_inbound_report(raw.str());
              if (!report) {
                problems.push_back(file.string() + ": " + report.error().message);
                continue;
              }
              ++reports;
              const auto tag = verp_of(*report);
              std::string campaign;
              if (tag) {
                if (auto m = q.get_message(tag->message_id)) campaign = m->campaign;
              }
              auto record = [&](const std::string& recipient, const std::string& category,
                                bool hard, const std::string& reply, bool suppress_it) {
                storage::add_failure_record(batch, {.campaign = campaign,
                                                    .recipient = recipient,
                                                    .category = category,
                                                    .hard = hard,
                                                    .reply = reply,
                                                    .time = unix_now()});
                ++recorded;
                ++by_category[category];
                if (suppress_it && !o->no_suppress) {
                  storage::SuppressionList::add_to(batch, {.address = recipient,
                                                           .category = category,
                                                           .reason = reply,
                                                           .campaign = campaign,
                                                           .since = unix_now()});
                  ++suppressed;
                }
                if (o->json) {
                  nlohmann::json j;
                  j["file"] = file.string();
                  j["recipient"] = recipient;
                  j["campaign"] = campaign;
                  j["category"] = category;
                  j["hard"] = hard;
                  j["reply"] = reply;
                  j["verp"] = tag.has_value();
                  std::printf("%s\n", dump(j).c_str());
                }
              };
              if (report->kind == bounce::InboundReport::Kind::kComplaint) {
                std::string who = tag ? tag->recipient : report->original_rcpt_to;
                if (who.empty()) {
                  problems.push_back(file.string() +
                                     ": a complaint that names no recipient (no VERP address, "
                                     "no Original-Rcpt-To)");
                  continue;
                }
                record(who, "complaint", true, "feedback report: " + report->feedback_type, true);
                continue;
              }
              for (const auto& r : report->recipients) {
                // Only failures: "delayed" and "delivered" reports change nothing.
                if (r.action != "failed" && !(r.action.empty() && r.status.starts_with("5"))) {
                  ++ignored;
                  continue;
                }
                // A VERP'd report is about its one recipient, whatever the remote server wrote
                // as Final-Recipient (often a rewritten or forwarded address).
                std::string recipient =
                    tag && report->recipients.size() == 1 ? tag->recipient : r.address;
                // A diagnostic without a reply code ("X-Postfix; unknown user") is read with the
                // report's Status in front, so that the code and enhanced code classify it.
                std::string reply = r.diagnostic;
                if (reply.empty() || reply[0] < '0' || reply[0] > '9') {
                  std::string code = r.status.starts_with("4") ? "450 " : "550 ";
                  reply = code + r.status + (reply.empty() ? "" : " " + reply);
                }
                const bounce::Classification verdict = classifier.classify_text(reply);
                record(recipient, std::string(bounce::category_name(verdict.category)),
                       verdict.hard, reply, bounce::should_suppress(verdict));
              }
            }
            if (auto ok = q.apply(std::move(batch)); !ok) return usage_error(ok.error().message);
            if (auto ok = q.sync_wal(); !ok) return usage_error(ok.error().message);
            for (const auto& p : problems) std::fprintf(stderr, "ringmta: %s\n", p.c_str());
            if (o->json) {
              nlohmann::json j;
              j["reports"] = reports;
              j["recorded"] = recorded;
              j["suppressed"] = suppressed;
              j["ignored"] = ignored;
              j["unreadable"] = problems.size();
              j["by_category"] = by_category;
              std::printf("%s\n", dump(j).c_str());
            } else {
              std::printf(
                  "%llu report%s read: %llu failure%s recorded, %llu suppressed, %llu not "
                  "failures; %zu file%s unreadable\n",
                  static_cast<unsigned long long>(reports), reports == 1 ? "" : "s",
                  static_cast<unsigned long long>(recorded), recorded == 1 ? "" : "s",
                  static_cast<unsigned long long>(suppressed),
                  static_cast<unsigned long long>(ignored), problems.size(),
                  problems.size() == 1 ? "" : "s");
              for (const auto& [category, n] : by_category) {
                std::printf("  %-20s %llu\n", category.c_str(), static_cast<unsigned long long>(n));
              }
            }
            return problems.empty() ? 0 : kSomeFailed;
          }};
}

}  // namespace ringmta::cli
