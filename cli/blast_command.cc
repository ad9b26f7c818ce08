// `ringmta blast`: load-test any SMTP server (engine/blast) and print throughput, latency
// percentiles per command and end to end, and the replies seen. Exit 0 if every message was
// accepted, 1 if some were refused or sessions failed, 2 for a usage error.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "cli/report.h"
#include "cli/route_options.h"
#include "loadgen/blast.h"

namespace ringmta::cli {
namespace {

struct BlastFlags {
  config::RouteSettings route;  // target, TLS and AUTH flags only (the rest stay at their defaults)
  int connections = 16;
  double rate = 0;
  double duration = 10;
  uint64_t messages = 0;
  std::size_t size = 10'240;
  int recipients = 1;
  std::string sender = "blast@ringmta.test";
  std::string domain = "blast.test";
  int threads = 1;
  bool json = false;
};

constexpr double kQuantiles[] = {0.5, 0.9, 0.99, 0.999};

nlohmann::json percentiles(const metrics::LatencyRecorder& r) {
  nlohmann::json j = {{"count", r.count()}};
  for (double q : kQuantiles) {
    char key[16];
    std::snprintf(key, sizeof key, "p%g", q * 100);
    j[key] = r.quantile(q) / 1000.0;  // milliseconds
  }
  j["max"] = static_cast<double>(r.max()) / 1000.0;
  return j;
}

void print_row(const char* name, const metrics::LatencyRecorder& r) {
  std::printf("  %-14s %9llu %9.3f %9.3f %9.3f %9.3f %9.3f\n", name,
              static_cast<unsigned long long>(r.count()), r.quantile(0.5) / 1000,
              r.quantile(0.9) / 1000, r.quantile(0.99) / 1000, r.quantile(0.999) / 1000,
              static_cast<double>(r.max()) / 1000);
}

int run(const BlastFlags& f) {
  if (f.route.smarthost.empty()) return usage_error("--target HOST:PORT is required");
  if (f.duration <= 0 && f.messages == 0) {
    return usage_error("give --duration, --messages or both: the run must end");
  }
  auto route = config::build_route(f.route);
  if (!route) return usage_error(route.error().message);
  loadgen::BlastOptions o;
  o.target = route->target;
  o.client = route->client;
  o.connections = f.connections;
  o.rate = f.rate;
  o.duration = static_cast<Millis>(f.duration * 1000);
  o.messages = f.messages;
  o.size = f.size;
  o.recipients_per_message = f.recipients;
  o.sender = f.sender;
  o.recipient_domain = f.domain;
  o.threads = f.threads;
  auto report = loadgen::run_blast(o);
  if (!report) {
    std::fprintf(stderr, "ringmta blast: %s\n", report.error().message.c_str());
    return 1;
  }
  const loadgen::BlastReport& r = report.value();
  double rate = r.seconds > 0 ? static_cast<double>(r.messages_accepted) / r.seconds : 0;
  if (f.json) {
    nlohmann::json j = {{"target", f.route.smarthost},
                        {"connections", f.connections},
                        {"seconds", r.seconds},
                        {"messages", r.messages},
                        {"messages_accepted", r.messages_accepted},
                        {"messages_per_second", rate},
                        {"recipients_accepted", r.recipients_accepted},
                        {"recipients_refused", r.recipients_refused},
                        {"bytes", r.bytes},
                        {"sessions_ready", r.sessions_ready},
                        {"sessions_failed", r.sessions_failed},
                        {"replies", r.replies},
                        {"errors", r.errors},
                        {"end_to_end_ms", percentiles(r.end_to_end)},
                        {"session_ms", percentiles(r.session)}};
    for (const auto& [name, rec] : r.commands) j["commands_ms"][name] = percentiles(rec);
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("blast %s: %llu messages accepted of %llu in %.2f s: %.0f msg/s, %.1f MB/s\n",
                f.route.smarthost.c_str(), static_cast<unsigned long long>(r.messages_accepted),
                static_cast<unsigned long long>(r.messages), r.seconds, rate,
                r.seconds > 0 ? static_cast<double>(r.bytes) / r.seconds / 1e6 : 0);
    std::printf("sessions: %llu ready, %llu failed\n",
                static_cast<unsigned long long>(r.sessions_ready),
                static_cast<unsigned long long>(r.sessions_failed));
    std::printf("latency (ms)       count       p50       p90       p99     p99.9       max\n");
    print_row("end to end", r.end_to_end);
    print_row("session", r.session);
    for (const auto& [name, rec] : r.commands) print_row(name.c_str(), rec);
    std::printf("replies:");
    for (const auto& [reply, n] : r.replies) {
      std::printf(" %s ×%llu;", reply.c_str(), static_cast<unsigned long long>(n));
    }
    std::printf("\n");
    for (const auto& e : r.errors) std::printf("session failure: %s\n", e.c_str());
  }
  std::fflush(stdout);
  bool clean = r.messages > 0 && r.messages_accepted == r.messages && r.sessions_failed == 0;
  return clean ? 0 : 1;
}

}  // namespace

Command add_blast_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "blast", "Load-test an SMTP server: messages/s, latency per command, replies");
  auto f = std::make_shared<BlastFlags>();
  f->route.tls = "none";
  sub->add_option("--target", f->route.smarthost, "The server: HOST[:PORT], IPv4 or [IPv6]:PORT")
      ->required();
  sub->add_option("--connections", f->connections, "Connections kept open")
      ->check(CLI::Range(1, 100000));
  sub->add_option("--rate", f->rate, "Messages per second in total (default: as fast as it goes)")
      ->check(CLI::Range(0.0, 1e9));
  sub->add_option("--duration", f->duration,
                  "Seconds to start messages for (0: until --messages are sent)")
      ->check(CLI::Range(0.0, 86400.0));
  sub->add_option("--messages", f->messages, "Stop after this many messages");
  sub->add_option("--size", f->size, "Message size in bytes")
      ->check(CLI::Range(std::size_t{200}, std::size_t{100} << 20));
  sub->add_option("--recipients-per-message", f->recipients, "RCPTs per transaction")
      ->check(CLI::Range(1, 1000));
  sub->add_option("--sender", f->sender, "MAIL FROM address");
  sub->add_option("--to-domain", f->domain, "Recipients are bN-K@DOMAIN");
  sub->add_option("--threads", f->threads, "Event-loop threads")->check(CLI::Range(1, 256));
  sub->add_option("--tls", f->route.tls, "none (default), starttls, or implicit")
      ->check(CLI::IsMember({"starttls", "implicit", "none"}));
  sub->add_option("--ca-file", f->route.ca_file, "CA certificates (PEM) to verify the server with");
  sub->add_flag("--insecure", f->route.insecure, "Do not verify the server's certificate or name");
  sub->add_option("--user", f->route.user, "SMTP AUTH user name");
  sub->add_option("--password-file", f->route.password_file,
                  "File holding the password (or set RINGMTA_PASSWORD)");
  sub->add_option("--auth", f->route.auth, "auto, plain, login or cram-md5")
      ->check(CLI::IsMember({"auto", "plain", "login", "cram-md5"}));
  sub->add_option("--ehlo", f->route.ehlo, "EHLO name (default: this host's FQDN)");
  sub->add_option("--command-timeout", f->route.command_timeout,
                  "Upper bound on each command's timeout, seconds")
      ->check(CLI::Range(int64_t{1}, int64_t{3600}));
  sub->add_flag("--json", f->json, "Print one JSON object instead of the table");
  return {sub, [f]() -> int { return run(*f); }};
}

}  // namespace ringmta::cli
