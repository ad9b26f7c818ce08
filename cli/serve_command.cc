// `ringmta serve`: the long-running service. It delivers the queue continuously (engine::deliver
// with `serve`: an empty queue is not the end), takes campaigns and suppressions over the
// HTTP/JSON API (service/api.h) on --api-listen and messages over SMTP submission
// (submission/server.h) on --submission-listen, answers /metrics, /status and unsubscribe links
// on --admin, and ends on SIGTERM or SIGINT: sessions close, everything undecided stays queued for
// the next start. Flags and wiring only.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/admin_options.h"
#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/job_options.h"
#include "cli/output.h"
#include "cli/report.h"
#include "cluster/membership.h"
#include "dkim/signer.h"
#include "engine/io/tls_channel.h"
#include "engine/route_updates.h"
#include "engine/suppression_feed.h"
#include "http/admin_server.h"
#include "service/api.h"
#include "service/cluster_campaigns.h"
#include "service/event_log.h"
#include "service/readiness.h"
#include "service/route_watch.h"
#include "service/service_file.h"
#include "storage/queue.h"
#include "submission/server.h"
#include "unsubscribe/secret.h"

namespace ringmta::cli {
namespace {

struct ApiFlags {
  std::string log_format = "auto";
  std::string listen;
  std::string tls_cert, tls_key;  // HTTPS
  std::string token_file;
  std::size_t max_body_mb = 64;
  std::size_t max_upload_mb = 0;  // 0 = bounded by the spool's disk only
  std::string spool_dir;
  std::string max_requests;  // "" = unlimited
  // A cluster node's listener for the other nodes (campaign parts, per-node reports) and the URL
  // they reach it at.
  std::string cluster_listen, cluster_url;
};

struct SubmissionFlags {
  std::string listen, tls_listen, tls_cert, tls_key, users, relay_networks;
  std::size_t max_size_mb = 50;
  std::size_t max_recipients = 1000;
  std::size_t max_connections = 1000;
};

void add_submission_flags(CLI::App& sub, SubmissionFlags& s) {
  sub.add_option("--submission-listen", s.listen,
                 "SMTP submission (HOST:PORT, e.g. 0.0.0.0:587): STARTTLS with --tls-cert, AUTH "
                 "for --users, relaying for --relay-networks");
  sub.add_option("--submission-tls-listen", s.tls_listen,
                 "SMTP submission over implicit TLS (HOST:PORT, e.g. 0.0.0.0:465)");
  sub.add_option("--tls-cert", s.tls_cert, "The submission listener's PEM certificate chain");
  sub.add_option("--tls-key", s.tls_key, "The PEM private key of --tls-cert");
  sub.add_option("--users", s.users,
                 "Submission users, lines NAME:HASH[:senders=a@b,@domain rate=N/hour "
                 "max_recipients=N], HASH from `openssl passwd -6`");
  sub.add_option("--relay-networks", s.relay_networks,
                 "Networks that may submit without AUTH, CIDR[,CIDR...] (default: none)");
  sub.add_option("--submission-max-size", s.max_size_mb, "Largest submitted message, in MiB")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1024}))
      ->capture_default_str();
  sub.add_option("--submission-max-recipients", s.max_recipients,
                 "Recipients per submitted message at most (a user's max_recipients may lower it)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  sub.add_option("--submission-max-connections", s.max_connections,
                 "Submission sessions open at once at most (more are told 421)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
      ->capture_default_str();
}

std::atomic<bool> g_reload{false};  // SIGHUP

void on_sighup(int) {
  g_reload.store(true);
}

// The service's housekeeping thread, until *stop: on SIGHUP, reload(); every `every` seconds,
// deletes the one-off messages (submissions, DSNs) nothing needs any more
// (Queue::collect_messages) and logs how many.
void housekeeping(storage::Queue& queue, int every, const std::atomic<bool>& stop,
                  service::EventLog& log, const std::function<void()>& reload) {
  int waited = 0;
  while (!stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (g_reload.exchange(false)) reload();
    if (++waited * 200 < every * 1000) continue;
    waited = 0;
    auto collected = queue.collect_messages();
    if (!collected) {
      log.emit("messages_collect_failed", {{"error", collected.error().message}});
    } else if (*collected > 0) {
      log.emit("messages_collected", {{"messages", *collected}});
    }
  }
}

constexpr std::size_t kMinTokenLength = 16;

// The bearer token: the file's first line, trimmed. Too short to be a secret is refused.
Result<std::string> read_token(const std::string& path, service::EventLog& log) {
  auto read = service::read_token_file(path, "--api-token-file");
  if (!read) return make_error("cannot read --api-token-file: " + read.error().message);
  const std::string& token = *read;
  if (token.size() < kMinTokenLength) {
    return make_error("--api-token-file " + path + ": the token is " +
                      (token.empty() ? std::string("empty")
                                     : "only " + std::to_string(token.size()) + " characters") +
                      "; write a long random one, e.g. `openssl rand -hex 32 > " + path + "`");
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0) {
    log.emit("warning", {{"message", "--api-token-file " + path +
                                         " is readable by every user; `chmod 600 " + path + "`"}});
  }
  return token;
}

// A request to the cluster listener as the API names it: /cluster/v1/... is /api/v1/...
http::HttpRequest as_api_request(const http::HttpRequest& request) {
  constexpr std::string_view kNodes = "/cluster/v1/";
  http::HttpRequest api = request;
  if (api.path.starts_with(kNodes)) api.path = "/api/v1/" + api.path.substr(kNodes.size());
  return api;
}

struct NodeListener {
  std::unique_ptr<http::AdminServer> server;
  std::shared_ptr<service::ClusterCampaigns> campaigns;  // what this node's API splits with
};

// --cluster-listen: where the other nodes of the cluster send this node its parts of campaigns
// and ask about them (/cluster/v1/..., the API's endpoints over this node's queue alone, with
// the API's token); the URL is told to the cluster's agent, which advertises it in Redis.
Result<NodeListener> listen_for_nodes(const ApiFlags& api, storage::Queue& queue,
                                      engine::RouteConfig& route, const std::string& token,
                                      const std::shared_ptr<engine::TlsContext>& tls,
                                      const std::string& spool,
                                      const std::shared_ptr<engine::SuppressionFeed>& feed,
                                      const std::shared_ptr<engine::DeliveryControl>& control,
                                      service::EventLog& log) {
  auto started = http::AdminServer::start(
      api.cluster_listen,
      http::ListenerOptions{.max_body = api.max_body_mb << 20,
                            .max_streamed_body = http::HttpRequestParser::kUnlimited,
                            .tls = tls,
                            .builtin_pages = false});
  if (!started) return make_error("--cluster-listen " + started.error().message);
  NodeListener out{std::move(started.value()), nullptr};
  std::string url = api.cluster_url.empty() ? out.server->url() : api.cluster_url;
  if (api.cluster_url.empty() &&
      (url.find("://0.0.0.0:") != std::string::npos || url.find("://[::]:") != std::string::npos)) {
    return make_error("--cluster-listen " + api.cluster_listen +
                      " listens on every address: give --cluster-url, the URL the other nodes "
                      "reach it at");
  }
  if (!url.ends_with('/')) url += '/';
  cluster::AgentOptions& agent = *route.cluster;
  if (agent.node.empty()) agent.node = cluster::default_node_id();  // the agent's and the API's
  agent.url = url;
  auto node_api = std::make_shared<service::ServiceApi>(
      queue, service::ApiSettings{.token = token,
                                  .spool_dir = spool,
                                  .sender_override = route.sender_override,
                                  .route = &route,
                                  .suppression_feed = feed,
                                  .control = control,
                                  .log = &log,
                                  .max_message = api.max_body_mb << 20});
  out.server->handle("/cluster/v1/", [node_api](const http::HttpRequest& r) {
    return node_api->handle(as_api_request(r));
  });
  out.server->handle_stream({"/cluster/v1/campaigns",
                             [](const http::HttpRequest& head) {
                               return service::ServiceApi::is_upload(as_api_request(head));
                             },
                             [node_api](const http::HttpRequest& head) {
                               return node_api->open_upload(as_api_request(head));
                             }});
  out.campaigns = std::make_shared<service::ClusterCampaigns>(service::ClusterSettings{
      .redis = agent.redis,
      .prefix = agent.prefix,
      .node = agent.node,
      .token = token,
      .pinned_cert =
          api.tls_cert.empty() ? std::string() : std::filesystem::absolute(api.tls_cert).string(),
      .timeout = 30'000});
  return out;
}

}  // namespace

// Every flag of `serve`, into one struct: parsed at start, and again on SIGHUP.
struct ServeFlags {
  JobOptions job;
  ApiFlags api;
  SubmissionFlags submit;
  int collect_every = 600;
};

void add_serve_flags(CLI::App& sub, ServeFlags& f) {
  sub.add_option("--api-listen", f.api.listen,
                 "HTTP/JSON API for applications (HOST:PORT): POST /api/v1/campaigns and more; "
                 "needs --api-token-file");
  sub.add_option("--api-token-file", f.api.token_file,
                 "A file holding the API's bearer token (Authorization: Bearer TOKEN)");
  sub.add_option("--api-tls-cert", f.api.tls_cert,
                 "Serve the API over HTTPS with this PEM certificate chain (and --api-tls-key)");
  sub.add_option("--api-tls-key", f.api.tls_key, "The PEM private key of --api-tls-cert");
  sub.add_option("--api-max-body", f.api.max_body_mb, "Largest API request body, in MiB")
      ->check(CLI::Range(std::size_t{1}, std::size_t{4096}))
      ->capture_default_str();
  sub.add_option("--api-max-upload", f.api.max_upload_mb,
                 "Largest recipient list uploaded as multipart/form-data, in MiB (default 0: any "
                 "size the spool directory's disk holds)");
  sub.add_option(
      "--api-max-requests", f.api.max_requests,
      "Requests the API answers at most, e.g. 50/second (429 beyond; default: no limit)");
  sub.add_option("--cluster-listen", f.api.cluster_listen,
                 "In a cluster (--redis): take parts of campaigns injected into other nodes, and "
                 "answer their questions about them, on HOST:PORT; campaigns injected here are "
                 "split by domain across the nodes that have one (needs --api-listen: the same "
                 "token on every node)");
  sub.add_option("--cluster-url", f.api.cluster_url,
                 "The URL the other nodes reach --cluster-listen at (default: its address, "
                 "which must then not be a wildcard)");
  sub.add_option("--spool-dir", f.api.spool_dir,
                 "Where an API request's recipients are written while they are queued (default: "
                 "the system's temporary directory)");
  sub.add_option("--log-format", f.api.log_format,
                 "The service's log on stderr: json (one JSON object a line, for journald), text, "
                 "or auto (text on a terminal, else json)")
      ->check(CLI::IsMember({"auto", "json", "text"}))
      ->capture_default_str();
  add_submission_flags(sub, f.submit);
  sub.add_option("--collect-every", f.collect_every,
                 "Seconds between deletions of the submitted messages and DSNs whose recipients "
                 "are all done")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  add_job_options(sub, f.job, true);
}

// SIGHUP: the command line and --config file read again, as at start.
Result<ServeFlags> reparse_serve_flags() {
  CLI::App app;
  CLI::App* sub = app.add_subcommand("serve");
  ServeFlags flags;
  add_serve_flags(*sub, flags);
  auto args = apply_config_file(g_argv, app);
  if (!args) return args.error();
  std::vector<std::string> reversed(args->rbegin(), args->rend() - 1);
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return make_error(e.what());
  }
  return flags;
}

Command add_serve_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "serve",
      "Run as a service: deliver the queue continuously and take campaigns over an "
      "HTTP/JSON API and SMTP submission, until SIGTERM");
  auto flags = std::make_shared<ServeFlags>();
  add_serve_flags(*sub, *flags);
  JobOptions* o = &flags->job;
  ApiFlags* api = &flags->api;
  SubmissionFlags* submit = &flags->submit;
  int* collect_every = &flags->collect_every;
  return {
      sub, [=, flags = flags]() -> int {
        // The service's log, from the start: its warnings are events too.
        auto log = std::make_shared<service::EventLog>(
            api->log_format == "json"   ? service::EventLog::Format::kJson
            : api->log_format == "text" ? service::EventLog::Format::kText
                                        : service::default_log_format());
        if (!api->listen.empty() && api->token_file.empty()) {
          return usage_error("--api-listen needs --api-token-file (the API's bearer token)");
        }
        std::string token;
        if (!api->token_file.empty()) {
          auto read = read_token(api->token_file, *log);
          if (!read) return usage_error(read.error().message);
          token = std::move(*read);
        }
        scheduler::Rate max_requests;
        if (!api->max_requests.empty()) {
          auto rate = scheduler::parse_rate(api->max_requests);
          if (!rate) return usage_error("--api-max-requests: " + rate.error().message);
          max_requests = *rate;
        }
        auto route = config::build_route(o->route);
        if (!route) return usage_error(route.error().message);
        for (const std::string& w : route->warnings) log->emit("warning", {{"message", w}});
        route->facts.sender = route->sender_override;
        const std::string& queue_dir = o->delivery.queue_dir;
        auto queue = storage::Queue::open(queue_dir);
        if (!queue) return usage_error("--queue " + queue_dir + ": " + queue.error().message);
        storage::Queue& q = *queue.value();
        // Made now, so that the admin listener answers the unsubscribe links of campaigns
        // that arrive while the service runs.
        if (auto secret = unsubscribe::queue_secret(q, true); !secret) {
          return usage_error("--queue " + queue_dir + ": " + secret.error().message);
        }
        std::vector<std::string> admin_warnings;
        auto admin = start_admin(o->admin, &admin_warnings);
        if (!admin) return usage_error(admin.error().message);
        for (const std::string& w : admin_warnings) log->emit("warning", {{"message", w}});
        engine::DeliveryOptions options;
        auto feed = std::make_shared<engine::SuppressionFeed>();
        if (auto served = serve_unsubscribes(admin->get(), q, options, feed, /*announce=*/false);
            !served) {
          return usage_error(served.error().message);
        }
        options.suppression_feed = feed;
        // The holds recorded in the queue (paused or cancelled campaigns, paused domains); the
        // API changes them while the service runs.
        auto control = std::make_shared<engine::DeliveryControl>();
        {
          auto state = engine::control_state(q);
          if (!state) return usage_error("--queue " + queue_dir + ": " + state.error().message);
          control->set(std::move(*state));
        }
        options.control = control;
        attach_admin(admin->get(), o->admin, options);
        // Route events for the log from the snapshots the admin listener is given too.
        auto watch = std::make_shared<service::RouteWatch>(*log);
        options.on_snapshot = [publish = options.on_snapshot,
                               watch](std::shared_ptr<const metrics::Snapshot> s) {
          watch->observe(*s);
          if (publish) publish(std::move(s));
        };
        std::unique_ptr<http::AdminServer> api_server;
        std::unique_ptr<http::AdminServer> cluster_server;  // the other nodes' listener
        if (!api->cluster_listen.empty() && (api->listen.empty() || !route->cluster)) {
          return usage_error(
              "--cluster-listen is for a cluster's node: it needs --redis HOST:PORT and "
              "--api-listen (whose token the nodes share)");
        }
        if (!api->listen.empty()) {
          std::string spool = api->spool_dir.empty()
                                  ? std::filesystem::temp_directory_path().string()
                                  : api->spool_dir;
          if (api->tls_cert.empty() != api->tls_key.empty()) {
            return usage_error("--api-tls-cert and --api-tls-key go together");
          }
          std::shared_ptr<engine::TlsContext> api_tls;
          if (!api->tls_cert.empty()) {
            auto made = engine::TlsContext::server(api->tls_cert, api->tls_key);
            if (!made) return usage_error("--api-tls-cert: " + made.error().message);
            api_tls = std::move(made.value());
          }
          auto started = http::AdminServer::start(
              api->listen,
              http::ListenerOptions{.max_body = api->max_body_mb << 20,
                                    .max_streamed_body = api->max_upload_mb == 0
                                                             ? http::HttpRequestParser::kUnlimited
                                                             : uint64_t{api->max_upload_mb} << 20,
                                    .tls = api_tls,
                                    .builtin_pages = false});
          if (!started) return usage_error("--api-listen " + started.error().message);
          api_server = std::move(started.value());
          std::shared_ptr<service::ClusterCampaigns> cluster_campaigns;
          if (!api->cluster_listen.empty()) {
            auto listened =
                listen_for_nodes(*api, q, *route, token, api_tls, spool, feed, control, *log);
            if (!listened) return usage_error(listened.error().message);
            cluster_server = std::move(listened->server);
            cluster_campaigns = std::move(listened->campaigns);
          }
          auto handler = std::make_shared<service::ServiceApi>(
              q, service::ApiSettings{.token = token,
                                      .spool_dir = spool,
                                      .sender_override = route->sender_override,
                                      .route = &route.value(),
                                      .suppression_feed = feed,
                                      .control = control,
                                      .max_requests = max_requests,
                                      .log = log.get(),
                                      .max_message = api->max_body_mb << 20,
                                      .cluster = cluster_campaigns});
          api_server->handle(std::string(service::ServiceApi::kPathPrefix),
                             [handler](const http::HttpRequest& r) { return handler->handle(r); });
          api_server->handle_stream(
              {std::string(service::ServiceApi::kCampaignsPath), &service::ServiceApi::is_upload,
               [handler](const http::HttpRequest& head) { return handler->open_upload(head); }});
          // For `suppress` and `queue`, which find the queue locked while the service runs.
          if (auto noted = service::write_service_file(
                  queue_dir,
                  {api_server->url(), std::filesystem::absolute(api->token_file).string(),
                   ::getpid(),
                   api->tls_cert.empty() ? std::string()
                                         : std::filesystem::absolute(api->tls_cert).string()});
              !noted) {
            log->emit("warning", {{"message", noted.error().message +
                                                  "; `suppress`, `queue` and `report` cannot "
                                                  "reach the service"}});
          }
        }
        // Shared with the admin listener's /metrics, which may outlive this scope's order.
        std::shared_ptr<submission::SubmissionServer> submission_server;
        if (!submit->listen.empty() || !submit->tls_listen.empty()) {
          auto started = submission::SubmissionServer::start(
              submission::SubmissionOptions{.listen = submit->listen,
                                            .tls_listen = submit->tls_listen,
                                            .tls_cert_path = submit->tls_cert,
                                            .tls_key_path = submit->tls_key,
                                            .users_path = submit->users,
                                            .relay_networks = submit->relay_networks,
                                            .hostname = route->facts.ehlo_name,
                                            .max_message_size = uint64_t{submit->max_size_mb} << 20,
                                            .max_recipients = submit->max_recipients,
                                            .max_connections = submit->max_connections},
              q, [log](const submission::SubmissionEvent& e) {
                log->emit("submission_" + e.kind, {{"client", e.client}, {"detail", e.detail}});
              });
          if (!started) return usage_error(started.error().message);
          submission_server = std::move(started.value());
          if (admin.value()) {
            admin.value()->add_metrics([server = submission_server] {
              return submission::submission_metrics(server->counts());
            });
          }
        } else if (!submit->users.empty() || !submit->relay_networks.empty()) {
          return usage_error(
              "--users and --relay-networks are for the submission listener: add "
              "--submission-listen HOST:PORT");
        }
        options.shards = config::shard_count(o->route);
        options.interrupt = &g_interrupted;
        options.serve = true;
        options.progress_every = 5000;
        options.on_progress = [](const engine::Progress& p) {
          if (g_interrupted.load()) return service::notify_stopping();
          char line[160];
          std::snprintf(line, sizeof line, "delivering: %llu delivered, %llu deferred, %llu failed",
                        static_cast<unsigned long long>(p.totals.delivered),
                        static_cast<unsigned long long>(p.totals.deferred),
                        static_cast<unsigned long long>(p.totals.failed));
          service::notify_status(line);
        };
        log->emit("start",
                  {{"queue", queue_dir},
                   {"version", RINGMTA_VERSION},
                   {"route", route->direct ? std::string("direct to MX hosts")
                                           : engine::smart_host_label(*route)},
                   {"api", api_server ? api_server->url() : std::string()},
                   {"admin", admin.value() ? admin.value()->url() : std::string()},
                   {"submission", submission_server ? submission_server->address() : std::string()},
                   {"submission_tls",
                    submission_server ? submission_server->tls_address() : std::string()},
                   {"submission_users", submission_server ? submission_server->users() : 0},
                   {"shards", options.shards}});
        // SIGHUP reads the command line and --config again and applies what a running service
        // can change: the DKIM keys and throttle rules (to the shards, at their next tick), the
        // submission listener's users file and certificate. Anything that does not load keeps
        // everything as it was, and the log says why.
        auto updates = std::make_shared<engine::RouteUpdates>();
        options.route_updates = updates;
        auto reload = [&submission_server, &log, updates] {
          auto failed = [&log](const std::string& why) {
            log->emit("reload_failed", {{"error", why}, {"kept", "the running configuration"}});
          };
          auto fresh = reparse_serve_flags();
          if (!fresh) return failed(fresh.error().message);
          auto next = config::build_route(fresh->job.route);
          if (!next) return failed(next.error().message);
          if (!next->dkim_keys.empty()) {
            if (auto signer = dkim::Signer::create(next->dkim_keys); !signer) {
              return failed("DKIM: " + signer.error().message);
            }
          }
          if (submission_server) {
            if (auto ok = submission_server->reload(fresh->submit.users, fresh->submit.tls_cert,
                                                    fresh->submit.tls_key);
                !ok) {
              return failed(ok.error().message);
            }
          }
          const std::size_t keys = next->dkim_keys.size();
          updates->set({std::move(next->dkim_keys), std::move(next->throttle)});
          nlohmann::json done{{"dkim_keys", keys}};
          if (submission_server) done["users"] = submission_server->users();
          log->emit("reload", done);
        };
        struct sigaction hup {};
        hup.sa_handler = on_sighup;
        sigemptyset(&hup.sa_mask);
        sigaction(SIGHUP, &hup, nullptr);
        std::atomic<bool> collector_stop{false};
        std::thread collector([&q, every = *collect_every, &collector_stop, &log, &reload] {
          housekeeping(q, every, collector_stop, *log, reload);
        });
        // The listeners accept from here on; the shards start at once.
        service::notify_ready("delivering from " + queue_dir);
        auto summary =
            jobs::run_delivery(q, *route, o->delivery, jobs::CampaignFacts{}, std::move(options));
        service::notify_stopping();
        collector_stop = true;
        collector.join();
        if (submission_server) {
          submission_server->stop();  // sessions waiting for a commit get their answer
          const submission::SubmissionCounts c = submission_server->counts();
          log->emit("submission_stopped", {{"connections", c.connections},
                                           {"messages", c.messages},
                                           {"recipients", c.recipients},
                                           {"auth_failures", c.auth_failures}});
        }
        if (api_server) {
          service::remove_service_file(queue_dir);
          api_server->stop();  // no campaign is half-queued past this point
        }
        if (cluster_server) cluster_server->stop();
        if (!summary) return usage_error(summary.error().message);
        const metrics::Totals& t = summary->totals;
        // Everything not delivered stays queued for the next start.
        nlohmann::json stopped{{"seconds", summary->seconds},
                               {"delivered", t.delivered},
                               {"failed", t.failed},
                               {"deferred", t.deferred},
                               {"queued", summary->queued}};
        if (!summary->diagnosis.empty()) stopped["diagnosis"] = summary->diagnosis;
        if (!summary->error.empty()) stopped["error"] = summary->error;
        log->emit("stop", stopped);
        if (admin.value()) admin.value()->stop();
        return summary->error.empty() ? 0 : 1;
      }};
}

}  // namespace ringmta::cli
