// Route flags shared by `send`, `run`, `check` and `demo`, and their translation into an
// engine::RouteConfig. Problems found here are configuration errors: exit status 2.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "engine/route_config.h"
#include "util/result.h"

namespace ringmta::cli {

struct RouteOptions {
  std::string smarthost;
  std::string tls = "starttls";
  std::string ca_file;
  bool insecure = false;
  std::string user;
  std::string password_file;
  std::string auth = "auto";
  std::string pop_before_smtp;
  std::string sender;
  std::string ehlo;
  int max_connections = 16;
  uint32_t max_messages_per_connection = 1000;
  std::string throttle_file;      // per-destination limits (scheduler/throttle_rules.h)
  int64_t retry_after = 300;      // seconds before the first retry
  int64_t max_age = 48 * 3600;    // seconds before a deferred recipient expires
  int64_t command_timeout = 300;  // cap on every per-command timeout, seconds
  int shards = 0;                 // 0 = one per core
  std::string bind_address;       // source address for outgoing connections
  // Direct delivery (no smart host): each domain's MX hosts.
  bool direct = false;
  std::string mx_tls = "opportunistic";
  std::vector<std::string> dns_servers;
  uint16_t mx_port = 25;
  bool allow_loopback_mx = false;
  int max_mx_hosts = 5;
};

void add_route_options(CLI::App& app, RouteOptions& options);

// envelope_sender is the default MAIL FROM when --sender is not given ("" = use the stored one).
Result<engine::RouteConfig> build_route(const RouteOptions& options);

int shard_count(const RouteOptions& options);

}  // namespace ringmta::cli
