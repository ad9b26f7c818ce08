// `ringmta send` and `ringmta run`: their flags, the jobs (jobs/) they run, and what they print.
#include <cstdio>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/admin_options.h"
#include "cli/commands.h"
#include "cli/job_options.h"
#include "cli/message_options.h"
#include "cli/report.h"
#include "cli/send_via_service.h"
#include "jobs/campaign.h"
#include "jobs/delivery_job.h"
#include "jobs/suppression_inbox.h"
#include "message/address.h"
#include "storage/queue.h"
#include "util/file.h"
#include "util/time.h"

namespace ringmta::cli {
namespace {

// Delivers what is queued and reports; shared by send and run.
int deliver_and_report(storage::Queue& queue, const engine::RouteConfig& route, const JobOptions& o,
                       const jobs::CampaignFacts& facts, http::AdminServer* admin) {
  engine::DeliveryOptions options;
  // Addresses suppressed during the job (a one-click unsubscribe, `ringmta suppress add`) reach
  // the shards through one feed.
  auto feed = std::make_shared<engine::SuppressionFeed>();
  options.suppression_feed = feed;
  if (auto served = serve_unsubscribes(admin, queue, options, feed); !served) {
    return usage_error(served.error().message);
  }
  auto inbox = jobs::SuppressionInbox::watch(o.delivery.queue_dir, queue, feed);
  if (!inbox) return usage_error(inbox.error().message);
  attach_admin(admin, o.admin, options);
  options.shards = config::shard_count(o.route);
  options.interrupt = &g_interrupted;
  if (!o.no_progress) show_progress(options);
  auto summary = jobs::run_delivery(queue, route, o.delivery, facts, std::move(options));
  if (!summary) return usage_error(summary.error().message);
  print_summary(*summary, facts, o.delivery.queue_dir);
  if (o.json) std::printf("%s\n", json_summary(*summary, facts).c_str());
  std::fflush(stdout);
  linger_admin(admin, o.admin);
  return exit_status(*summary);
}

}  // namespace

Command add_send_command(CLI::App& app) {
  auto* sub = app.add_subcommand("send", "Queue a message for every row of a CSV and deliver it");
  auto o = std::make_shared<JobOptions>();
  auto message = std::make_shared<MessageOptions>();
  auto recipients_path = std::make_shared<std::string>();
  auto rejects_path = std::make_shared<std::string>();
  auto campaign = std::make_shared<std::string>();
  add_message_options(*sub, *message);
  sub->add_option("--recipients", *recipients_path, "CSV with a header row and an email column")
      ->required();
  sub->add_option("--rejects", *rejects_path,
                  "Where rejected rows go (default: RECIPIENTS.rejects.csv)");
  sub->add_option("--campaign", *campaign,
                  "Campaign id (default: generated); the same message and list sent again with "
                  "the same id are not queued twice");
  auto new_campaign = std::make_shared<bool>(false);
  sub->add_flag("--new-campaign", *new_campaign,
                "Queue the list again although an earlier send of the same message and list still "
                "has recipients in the queue (they get it twice)");
  auto queue_only = std::make_shared<bool>(false);
  sub->add_flag(
      "--queue-only", *queue_only,
      "Only queue the recipients and exit (no route needed); `ringmta run` delivers them");
  auto test_to = std::make_shared<std::string>();
  auto test_rows = std::make_shared<uint64_t>(3);
  sub->add_option("--test-to", *test_to,
                  "A test send: the first --test-rows rows' copies (each merged with its row) all "
                  "to this address, to look at in a real mailbox; the list is not sent");
  sub->add_option("--test-rows", *test_rows, "Rows a --test-to send takes (default 3)")
      ->check(CLI::PositiveNumber);
  auto ignore_suppression = std::make_shared<bool>(false);
  sub->add_flag("--ignore-suppression", *ignore_suppression,
                "Queue addresses on the suppression list too (normally skipped and counted)");
  add_job_options(*sub, *o);
  return {sub, [=]() -> int {
            std::optional<engine::RouteConfig> route;
            std::string sender_override;
            if (*queue_only) {
              if (!o->route.sender.empty()) {
                auto parsed = message::parse_address(o->route.sender);
                if (!parsed) return usage_error("--sender: " + parsed.error().message);
                sender_override = parsed->str();
              }
            } else {
              auto built = config::build_route(o->route);
              if (!built) return usage_error(built.error().message);
              route = std::move(built.value());
              print_warnings(*route);
              sender_override = route->sender_override;
            }
            // Before queueing: an --admin address that cannot be bound must not leave a queued job.
            std::unique_ptr<http::AdminServer> admin;
            if (!*queue_only) {
              auto started = start_admin(o->admin);
              if (!started) return usage_error(started.error().message);
              admin = std::move(started.value());
            }
            auto raw = load_message(*message);
            if (!raw) return usage_error(raw.error().message);
            jobs::CampaignInput input{.raw_message = std::move(raw->raw),
                                      .message_name = raw->name,
                                      .recipients_path = *recipients_path,
                                      .rejects_path = *rejects_path,
                                      .campaign = !campaign->empty() ? *campaign
                                                  : test_to->empty()
                                                      ? jobs::new_campaign_id()
                                                      : "test-" + jobs::new_campaign_id(),
                                      .campaign_given = !campaign->empty(),
                                      .new_campaign = *new_campaign,
                                      .sender = sender_override,
                                      .verp = message->verp,
                                      .skip_suppressed = !*ignore_suppression,
                                      .list = message->list,
                                      .test_to = *test_to,
                                      .test_rows = *test_rows};
            if (!test_to->empty()) {
              std::fprintf(stderr,
                           "test send: the copies of the first %llu rows of %s, all to %s (the "
                           "list itself is not sent)\n",
                           static_cast<unsigned long long>(*test_rows), recipients_path->c_str(),
                           test_to->c_str());
            }
            auto addresses = jobs::campaign_addresses(input);
            if (!addresses) return usage_error(addresses.error().message);
            for (const std::string& w : addresses->warnings) {
              std::fprintf(stderr, "ringmta: warning: %s\n", w.c_str());
            }
            const std::string& sender = addresses->sender;
            if (route) {
              route->facts.sender = sender;
              auto signable = jobs::check_dkim_signing(*route, addresses->from_domain);
              if (!signable) return usage_error(signable.error().message);
              if (!signable->empty()) std::fprintf(stderr, "%s\n", signable->c_str());
            }
            const std::string& queue_dir = o->delivery.queue_dir;
            auto queue = storage::Queue::open(queue_dir);
            if (!queue && storage::queue_in_use(queue.error())) {
              // A running service holds the queue: it takes the campaign over its API.
              auto service = running_service(queue_dir);
              if (!service) return usage_error(service.error().message);
              if (*service) return send_via_service(**service, input, queue_dir);
            }
            if (!queue) return usage_error("--queue " + queue_dir + ": " + queue.error().message);
            std::fprintf(stderr, "campaign %s: queueing recipients from %s\n",
                         input.campaign.c_str(), recipients_path->c_str());
            Millis ingest_started = monotonic_now();
            auto facts = jobs::queue_campaign(*queue.value(), input, sender);
            if (!facts) return usage_error(facts.error().message);
            if (facts->already_queued) {
              std::fprintf(stderr,
                           "campaign %s: this message and list are already queued (%llu "
                           "recipients); nothing queued again%s\n",
                           facts->campaign.c_str(),
                           static_cast<unsigned long long>(facts->accepted),
                           *queue_only ? "" : ", delivering what is left");
            } else {
              std::fprintf(stderr,
                           "queued %llu recipients (%llu rows rejected, %llu duplicates, %llu "
                           "suppressed)\n",
                           static_cast<unsigned long long>(facts->accepted),
                           static_cast<unsigned long long>(facts->rejected_rows),
                           static_cast<unsigned long long>(facts->duplicates),
                           static_cast<unsigned long long>(facts->suppressed));
            }
            if (*queue_only) {
              if (auto synced = queue.value()->sync_wal(); !synced) {
                return usage_error("syncing the queue's WAL failed: " + synced.error().message);
              }
              double seconds = static_cast<double>(monotonic_now() - ingest_started) / 1000.0;
              if (o->json) {
                std::printf("%s\n", nlohmann::json{{"campaign", facts->campaign},
                                                   {"queued", facts->accepted},
                                                   {"rejected_rows", facts->rejected_rows},
                                                   {"duplicates", facts->duplicates},
                                                   {"suppressed", facts->suppressed},
                                                   {"seconds", seconds}}
                                        .dump()
                                        .c_str());
              }
              return 0;
            }
            return deliver_and_report(*queue.value(), *route, *o, *facts, admin.get());
          }};
}

Command add_run_command(CLI::App& app) {
  auto* sub = app.add_subcommand("run", "Deliver what is queued (resume after a stop or a fix)");
  auto o = std::make_shared<JobOptions>();
  add_job_options(*sub, *o);
  return {sub, [=]() -> int {
            auto route = config::build_route(o->route);
            if (!route) return usage_error(route.error().message);
            print_warnings(*route);
            const std::string& queue_dir = o->delivery.queue_dir;
            auto queue = storage::Queue::open(queue_dir);
            if (!queue) return usage_error("--queue " + queue_dir + ": " + queue.error().message);
            auto admin = start_admin(o->admin);
            if (!admin) return usage_error(admin.error().message);
            return deliver_and_report(*queue.value(), route.value(), *o, jobs::CampaignFacts{},
                                      admin.value().get());
          }};
}

}  // namespace ringmta::cli
