// `ringmta send` and `ringmta run`: ingest (send only), then deliver until nothing is due now.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>

#include "bounce/classify.h"
#include "cli/admin_options.h"
#include "cli/commands.h"
#include "cli/report.h"
#include "cli/route_options.h"
#include "engine/delivery.h"
#include "ingest/ingest.h"
#include "message/address.h"
#include "message/template.h"
#include "message/verp.h"
#include "storage/queue.h"
#include "util/time.h"

namespace ringmta::cli {
namespace {

struct JobOptions {
  RouteOptions route;
  AdminOptions admin;
  std::string queue_dir = "./ringmta-queue";
  std::string delivery_log;
  bool json = false;
  bool no_progress = false;
  bool until_done = false;
  std::string bounce_mode = "digest";
  std::string bounce_to;
  std::size_t bounce_digest_size = 100;
  int64_t bounce_digest_every = 60;  // seconds
  std::vector<std::string> bounce_rules;
  bool no_suppress = false;
  uint64_t delivery_log_max_mb = 0;
  int delivery_log_keep = 5;
};

void add_job_options(CLI::App& sub, JobOptions& o) {
  add_route_options(sub, o.route);
  add_admin_options(sub, o.admin);
  sub.add_option("--queue", o.queue_dir, "The RocksDB queue directory");
  sub.add_option("--delivery-log", o.delivery_log,
                 "Append one JSON line per outcome (recipient, host, IP, TLS, reply, bounce "
                 "category) to this file");
  sub.add_option("--delivery-log-max-size", o.delivery_log_max_mb,
                 "Rotate the delivery log when it reaches this many MiB (0: never)");
  sub.add_option("--delivery-log-keep", o.delivery_log_keep,
                 "Rotated delivery logs kept (FILE.1 newest .. FILE.N)")
      ->check(CLI::Range(1, 1000));
  sub.add_flag("--json", o.json, "Print one JSON object with the outcome at the end");
  sub.add_flag("--no-progress", o.no_progress, "Do not print the progress line");
  sub.add_flag("--until-done", o.until_done,
               "Keep running until every recipient is delivered or has failed: deferred ones are "
               "retried when due (until --max-age), instead of being left for a later `run`");
  sub.add_option(
         "--bounce-mode", o.bounce_mode,
         "DSNs for permanent failures, to the envelope Sender: digest (default; one DSN per "
         "message listing many recipients), per-recipient, or none")
      ->check(CLI::IsMember({"digest", "per-recipient", "none"}));
  sub.add_option("--bounce-to", o.bounce_to, "Send every DSN to this address instead");
  sub.add_option("--bounce-digest-size", o.bounce_digest_size, "Recipients listed in one DSN")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000}));
  sub.add_option("--bounce-digest-every", o.bounce_digest_every,
                 "Seconds a failure waits at most for its digest DSN")
      ->check(CLI::Range(int64_t{1}, int64_t{86400}));
  sub.add_option("--bounce-rules", o.bounce_rules,
                 "A TOML bounce rule file tried before the built-in rules (repeatable; see "
                 "`ringmta classify`)")
      ->allow_extra_args(false);
  sub.add_flag("--no-suppress", o.no_suppress,
               "Do not add hard-bounced addresses to the suppression list");
}

std::string new_campaign_id() {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof buf, "c%llx%04x", static_cast<unsigned long long>(unix_now()),
                rd() & 0xffff);
  return buf;
}

// Delivers what is queued and reports; shared by send and run.
int deliver_and_report(storage::Queue& queue, engine::RouteConfig& route, const JobOptions& o,
                       JobFacts facts, http::AdminServer* admin) {
  if (auto writable = queue.check_writable(); !writable) {
    return usage_error(
        "--queue " + o.queue_dir +
        ": nothing delivered, the queue cannot record outcomes: " + writable.error().message);
  }
  engine::DeliveryOptions options;
  options.until_done = o.until_done;
  options.bounces.mode = o.bounce_mode == "none"            ? engine::BounceMode::kNone
                         : o.bounce_mode == "per-recipient" ? engine::BounceMode::kPerRecipient
                                                            : engine::BounceMode::kDigest;
  if (!o.bounce_to.empty()) {
    auto to = message::parse_address(o.bounce_to);
    if (!to) return usage_error("--bounce-to: " + to.error().message);
    options.bounces.to = to->str();
  }
  options.bounces.max_per_dsn = o.bounce_digest_size;
  options.bounces.digest_every = o.bounce_digest_every * 1000;
  options.bounces.reporting_mta = route.client.ehlo_name;
  options.bounces.suppress = !o.no_suppress;
  bounce::Classifier classifier;
  for (const auto& path : o.bounce_rules) {
    if (auto loaded = classifier.load_rules_file(path); !loaded) {
      return usage_error("--bounce-rules " + loaded.error().message);
    }
  }
  options.bounces.classifier = &classifier;
  std::unique_ptr<engine::DeliveryLog> log;
  if (!o.delivery_log.empty()) {
    auto opened = engine::DeliveryLog::open(
        o.delivery_log, {.max_bytes = o.delivery_log_max_mb << 20, .keep = o.delivery_log_keep});
    if (!opened) return usage_error(opened.error().message);
    log = std::move(opened.value());
    options.delivery_log = log.get();
  }
  attach_admin(admin, o.admin, options);
  options.metrics.enqueued = facts.accepted;
  options.metrics.suppressed = facts.suppressed;
  if (!facts.campaign.empty()) options.metrics.campaign_sizes[facts.campaign] = facts.accepted;
  options.shards = shard_count(o.route);
  options.interrupt = &g_interrupted;
  bool tty = isatty(STDERR_FILENO) != 0;
  if (!o.no_progress) {
    options.on_progress = [tty](const engine::Progress& p) { print_progress(p, tty); };
    options.progress_every = tty ? 1000 : 2000;
  }
  engine::DeliverySummary summary = engine::deliver(queue, route, options);
  print_summary(summary, facts);
  if (o.json) std::printf("%s\n", json_summary(summary, facts).c_str());
  std::fflush(stdout);
  linger_admin(admin, o.admin);
  return exit_status(summary);
}

}  // namespace

Command add_send_command(CLI::App& app) {
  auto* sub = app.add_subcommand("send", "Queue a message for every row of a CSV and deliver it");
  auto o = std::make_shared<JobOptions>();
  auto message_path = std::make_shared<std::string>();
  auto recipients_path = std::make_shared<std::string>();
  auto rejects_path = std::make_shared<std::string>();
  auto campaign = std::make_shared<std::string>();
  sub->add_option("--message", *message_path, "RFC 5322 message, {{field}} merge fields allowed")
      ->required();
  sub->add_option("--recipients", *recipients_path, "CSV with a header row and an email column")
      ->required();
  sub->add_option("--rejects", *rejects_path,
                  "Where rejected rows go (default: RECIPIENTS.rejects.csv)");
  sub->add_option("--campaign", *campaign, "Campaign id (default: generated)");
  auto verp = std::make_shared<bool>(false);
  sub->add_flag("--verp", *verp,
                "One envelope Sender per recipient (SENDER+mID-user=domain@...), so bounces that "
                "come back later name the recipient (`ringmta bounces ingest`)");
  auto queue_only = std::make_shared<bool>(false);
  sub->add_flag(
      "--queue-only", *queue_only,
      "Only queue the recipients and exit (no route needed); `ringmta run` delivers them");
  auto ignore_suppression = std::make_shared<bool>(false);
  sub->add_flag("--ignore-suppression", *ignore_suppression,
                "Queue addresses on the suppression list too (normally skipped and counted)");
  add_job_options(*sub, *o);
  return {
      sub, [=]() -> int {
        std::optional<engine::RouteConfig> route;
        std::string sender_override;
        if (*queue_only) {
          if (!o->route.sender.empty()) {
            auto parsed = message::parse_address(o->route.sender);
            if (!parsed) return usage_error("--sender: " + parsed.error().message);
            sender_override = parsed->str();
          }
        } else {
          auto built = build_route(o->route);
          if (!built) return usage_error(built.error().message);
          route = std::move(built.value());
          sender_override = route->sender_override;
        }
        // Before queueing: an --admin address that cannot be bound must not leave a queued job.
        std::unique_ptr<http::AdminServer> admin;
        if (!*queue_only) {
          auto started = start_admin(o->admin);
          if (!started) return usage_error(started.error().message);
          admin = std::move(started.value());
        }
        std::ifstream in(*message_path, std::ios::binary);
        if (!in) return usage_error("cannot read --message " + *message_path);
        std::stringstream raw;
        raw << in.rdbuf();
        auto tpl = message::MessageTemplate::parse(raw.str());
        if (!tpl) return usage_error(*message_path + ": " + tpl.error().message);
        std::string sender = sender_override;
        if (sender.empty()) {
          if (!tpl->from_address()) {
            return usage_error("no --sender given and the message has no usable From: address");
          }
          sender = *tpl->from_address();
        }
        if (route) route->facts.sender = sender;
        auto queue = storage::Queue::open(o->queue_dir);
        if (!queue) return usage_error("--queue " + o->queue_dir + ": " + queue.error().message);

        ingest::IngestOptions io;
        io.recipients_path = *recipients_path;
        io.rejects_path = rejects_path->empty() ? *recipients_path + ".rejects.csv" : *rejects_path;
        io.envelope_sender = sender;
        io.raw_message = raw.str();
        io.campaign = campaign->empty() ? new_campaign_id() : *campaign;
        io.skip_suppressed = !*ignore_suppression;
        io.verp = *verp;
        if (*verp && !message::verp_capable(sender)) {
          return usage_error("--verp needs an envelope Sender without '+' in its local part (got " +
                             sender + ")");
        }
        std::fprintf(stderr, "campaign %s: queueing recipients from %s\n", io.campaign.c_str(),
                     recipients_path->c_str());
        Millis ingest_started = monotonic_now();
        auto ingested = ingest::ingest(*queue.value(), io);
        if (!ingested) return usage_error(ingested.error().message);
        // For `ringmta queue --campaign ID`: progress against the campaign's size.
        if (auto sized = queue.value()->add_campaign_size(io.campaign, ingested->accepted);
            !sized) {
          return usage_error(sized.error().message);
        }
        JobFacts facts{.rejected_rows = ingested->rejected_rows,
                       .duplicates = ingested->duplicates,
                       .accepted = ingested->accepted,
                       .suppressed = ingested->suppressed,
                       .rejects_path = ingested->rejected_rows ? io.rejects_path : "",
                       .campaign = io.campaign};
        std::fprintf(stderr,
                     "queued %llu recipients (%llu rows rejected, %llu duplicates, %llu "
                     "suppressed)\n",
                     static_cast<unsigned long long>(ingested->accepted),
                     static_cast<unsigned long long>(ingested->rejected_rows),
                     static_cast<unsigned long long>(ingested->duplicates),
                     static_cast<unsigned long long>(ingested->suppressed));
        if (*queue_only) {
          if (auto synced = queue.value()->sync_wal(); !synced) {
            return usage_error("syncing the queue's WAL failed: " + synced.error().message);
          }
          double seconds = static_cast<double>(monotonic_now() - ingest_started) / 1000.0;
          if (o->json) {
            std::printf("%s\n", nlohmann::json{{"campaign", io.campaign},
                                               {"queued", ingested->accepted},
                                               {"rejected_rows", ingested->rejected_rows},
                                               {"duplicates", ingested->duplicates},
                                               {"suppressed", ingested->suppressed},
                                               {"seconds", seconds}}
                                    .dump()
                                    .c_str());
          }
          return 0;
        }
        return deliver_and_report(*queue.value(), *route, *o, facts, admin.get());
      }};
}

Command add_run_command(CLI::App& app) {
  auto* sub = app.add_subcommand("run", "Deliver what is queued (resume after a stop or a fix)");
  auto o = std::make_shared<JobOptions>();
  add_job_options(*sub, *o);
  return {sub, [=]() -> int {
            auto route = build_route(o->route);
            if (!route) return usage_error(route.error().message);
            auto queue = storage::Queue::open(o->queue_dir);
            if (!queue)
              return usage_error("--queue " + o->queue_dir + ": " + queue.error().message);
            auto admin = start_admin(o->admin);
            if (!admin) return usage_error(admin.error().message);
            return deliver_and_report(*queue.value(), route.value(), *o, JobFacts{},
                                      admin.value().get());
          }};
}

}  // namespace ringmta::cli
