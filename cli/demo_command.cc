// `ringmta demo`: the README's first command. Starts the built-in sink on loopback and runs what
// `send` runs on built-in inputs (jobs/demo_inputs.h) — the whole engine (ingest, queue, shards,
// SMTP with pipelining) on an embedded default — with progress and a summary.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/admin_options.h"
#include "cli/commands.h"
#include "cli/report.h"
#include "config/route_settings.h"
#include "engine/delivery.h"
#include "jobs/campaign.h"
#include "jobs/delivery_job.h"
#include "jobs/demo_inputs.h"
#include "loadgen/sink_server.h"
#include "storage/queue.h"

namespace ringmta::cli {
namespace {

struct DemoOptions {
  uint64_t recipients = 100'000;
  int domains = 1000;
  int connections = 8;
  int shards = 0;
  std::string queue_dir;
  bool json = false;
  AdminOptions admin;
};

}  // namespace

Command add_demo_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "demo", "Send a built-in newsletter to a built-in local sink, with progress and a summary");
  auto o = std::make_shared<DemoOptions>();
  sub->add_option("--recipients", o->recipients, "How many recipients")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}));
  sub->add_option("--domains", o->domains, "Across how many domains")
      ->check(CLI::Range(1, 1'000'000));
  sub->add_option("--max-connections", o->connections, "Connections to the sink")
      ->check(CLI::Range(1, 1000));
  sub->add_option("--shards", o->shards, "Event-loop threads (default: one per core)");
  sub->add_option("--queue", o->queue_dir, "Queue directory (default: a fresh temporary one)");
  sub->add_flag("--json", o->json, "Print the JSON outcome at the end");
  add_admin_options(*sub, o->admin);
  return {sub, [=]() -> int {
            namespace fs = std::filesystem;
            auto admin = start_admin(o->admin);
            if (!admin) {
              std::fprintf(stderr, "ringmta: %s\n", admin.error().message.c_str());
              return kUsage;
            }
            fs::path work =
                fs::temp_directory_path() / ("ringmta-demo-" + std::to_string(::getpid()));
            fs::create_directories(work);
            std::string queue_dir = o->queue_dir.empty() ? (work / "queue").string() : o->queue_dir;

            loadgen::SinkOptions sink_options;
            sink_options.listen = "127.0.0.1:0";
            sink_options.threads = 1;
            loadgen::SinkServer sink(sink_options);
            if (auto ok = sink.start(); !ok) {
              std::fprintf(stderr, "ringmta: demo sink: %s\n", ok.error().message.c_str());
              return kUsage;
            }
            std::fprintf(stderr, "demo: sink listening on 127.0.0.1:%u\n", sink.port());

            std::string csv_path = (work / "recipients.csv").string();
            if (auto written = jobs::write_demo_recipients(csv_path, o->recipients, o->domains);
                !written) {
              std::fprintf(stderr, "ringmta: %s\n", written.error().message.c_str());
              return kUsage;
            }
            config::RouteSettings ro;
            ro.smarthost = "127.0.0.1:" + std::to_string(sink.port());
            ro.tls = "none";
            ro.ehlo = "demo.ringmta.test";
            ro.max_connections = o->connections;
            ro.shards = o->shards;
            auto route = config::build_route(ro);
            if (!route) {
              std::fprintf(stderr, "ringmta: %s\n", route.error().message.c_str());
              return kUsage;
            }
            auto queue = storage::Queue::open(queue_dir);
            if (!queue) {
              std::fprintf(stderr, "ringmta: queue: %s\n", queue.error().message.c_str());
              return kUsage;
            }
            // What `send` does, on built-in inputs.
            jobs::CampaignInput input{.raw_message = jobs::demo_newsletter(),
                                      .message_name = "the demo newsletter",
                                      .recipients_path = csv_path,
                                      .rejects_path = (work / "rejects.csv").string(),
                                      .campaign = jobs::kDemoCampaign,
                                      .sender = jobs::kDemoSender};
            Millis t0 = monotonic_now();
            auto facts = jobs::queue_campaign(*queue.value(), input, input.sender);
            if (!facts) {
              std::fprintf(stderr, "ringmta: %s\n", facts.error().message.c_str());
              return kUsage;
            }
            std::fprintf(stderr, "demo: queued %llu recipients across %d domains in %.2f s\n",
                         static_cast<unsigned long long>(facts->accepted), o->domains,
                         static_cast<double>(monotonic_now() - t0) / 1000.0);
            route->facts.sender = facts->envelope_sender;

            engine::DeliveryOptions options;
            options.shards = config::shard_count(ro);
            options.interrupt = &g_interrupted;
            show_progress(options);
            attach_admin(admin.value().get(), o->admin, options);
            jobs::DeliverySettings settings;
            settings.queue_dir = queue_dir;
            auto summary = jobs::run_delivery(*queue.value(), route.value(), settings, *facts,
                                              std::move(options));
            if (!summary) {
              std::fprintf(stderr, "ringmta: %s\n", summary.error().message.c_str());
              return kUsage;
            }
            print_summary(*summary, *facts, queue_dir);
            sink.stop();
            loadgen::SinkStats stats = sink.stats();
            std::fprintf(stderr, "sink          %llu messages, %llu recipients, %.1f MB\n",
                         static_cast<unsigned long long>(stats.messages),
                         static_cast<unsigned long long>(stats.recipients),
                         static_cast<double>(stats.bytes) / 1e6);
            if (o->json) std::printf("%s\n", json_summary(*summary, *facts).c_str());
            std::fflush(stdout);
            linger_admin(admin.value().get(), o->admin);
            queue.value().reset();
            std::error_code ec;
            fs::remove_all(work, ec);
            return exit_status(*summary);
          }};
}

}  // namespace ringmta::cli
