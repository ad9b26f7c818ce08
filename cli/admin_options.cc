// Admin listener flags and lifecycle for the job commands.
#include "cli/admin_options.h"

#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "metrics/process_metrics.h"
#include "unsubscribe/endpoint.h"
#include "unsubscribe/secret.h"
#include "util/time.h"

namespace ringmta::cli {

void add_admin_options(CLI::App& app, AdminOptions& o) {
  o.listen_option = app.add_option(
      "--admin", o.listen,
      "Admin HTTP listener for /metrics, /status and the status page (HOST:PORT, or none)");
  app.add_option("--admin-domains", o.domains,
                 "Destination domains with their own metric series (the rest are \"other\")")
      ->check(CLI::Range(std::size_t{0}, std::size_t{10'000}));
  app.add_option("--linger", o.linger,
                 "Keep the admin listener up this many seconds after the job ends")
      ->check(CLI::Range(0, 24 * 3600));
}

Result<std::unique_ptr<http::AdminServer>> start_admin(const AdminOptions& o,
                                                       std::vector<std::string>* warnings) {
  bool required = o.listen_option != nullptr && o.listen_option->count() > 0;
  auto opened = http::open_admin(o.listen, required);
  if (!opened) return opened.error();
  if (opened->server) {
    opened->server->add_metrics(
        [] { return metrics::process_metrics_text(RINGMTA_VERSION, RINGMTA_REVISION); });
  }
  if (warnings != nullptr) {
    if (!opened->warning.empty()) warnings->push_back(opened->warning);
    return std::move(opened->server);
  }
  if (!opened->warning.empty()) {
    std::fprintf(stderr, "ringmta: warning: %s\n", opened->warning.c_str());
  }
  if (opened->server) {
    std::fprintf(stderr, "admin: status page %s  metrics %smetrics\n",
                 opened->server->url().c_str(), opened->server->url().c_str());
  }
  return std::move(opened->server);
}

void attach_admin(http::AdminServer* server, const AdminOptions& o,
                  engine::DeliveryOptions& delivery) {
  delivery.metrics.labeled_domains = o.domains;
  if (server == nullptr) return;
  delivery.on_snapshot = [server](std::shared_ptr<const metrics::Snapshot> s) {
    server->publish(std::move(s));
  };
}

Result<void> serve_unsubscribes(http::AdminServer* server, storage::Queue& queue,
                                engine::DeliveryOptions& delivery,
                                std::shared_ptr<engine::SuppressionFeed> feed, bool announce) {
  if (server == nullptr) return {};
  auto secret = unsubscribe::queue_secret(queue, false);
  if (!secret) return secret.error();
  if (secret->empty()) return {};
  auto tokens = unsubscribe::UnsubscribeTokens::create(*secret);
  if (!tokens) return tokens.error();
  auto endpoint = std::make_shared<unsubscribe::UnsubscribeEndpoint>(queue, std::move(*tokens));
  if (!feed) feed = std::make_shared<engine::SuppressionFeed>();
  endpoint->on_unsubscribed([feed](std::string_view address) { feed->add(address); });
  delivery.suppression_feed = feed;
  server->handle(std::string(unsubscribe::UnsubscribeEndpoint::kPathPrefix),
                 [endpoint](const http::HttpRequest& r) {
                   auto a = endpoint->handle(r.method, r.path, r.body, unix_now());
                   return http::HttpAnswer{a.status, std::move(a.content_type), std::move(a.body)};
                 });
  delivery.metrics.unsubscribed = [endpoint] { return endpoint->unsubscribed(); };
  if (announce) {
    std::fprintf(stderr, "admin: unsubscribe links answered at %su/TOKEN\n", server->url().c_str());
  }
  return {};
}

void linger_admin(http::AdminServer* server, const AdminOptions& o) {
  if (server == nullptr) return;
  if (o.linger > 0 && !g_interrupted.load()) {
    std::fprintf(stderr, "admin: job over; %s stays up for %d s (Ctrl-C ends it)\n",
                 server->url().c_str(), o.linger);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(o.linger);
    while (std::chrono::steady_clock::now() < until && !g_interrupted.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  server->stop();
}

}  // namespace ringmta::cli
