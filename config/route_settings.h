// RouteSettings: how to reach the mail's destinations — a smart host (TLS, AUTH, POP-before-SMTP)
// or direct delivery to MX hosts — and the limits of the pool, as the flags and the TOML config
// say them; build_route() turns them into the engine::RouteConfig the shards read. Problems found
// here are configuration errors. It may not parse flags or print (the commands do).
#pragma once

#include <string>
#include <vector>

#include "config/dkim_settings.h"
#include "engine/route_config.h"
#include "util/result.h"

namespace ringmta::config {

struct RouteSettings {
  std::string smarthost;
  std::string tls = "starttls";
  std::string ca_file;
  bool insecure = false;
  std::string tls_name;  // verify the smart host's certificate against this name (and SNI)
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
  DkimSettings dkim;
  // A cluster of nodes (cluster/agent.h): the Redis that holds the limits of the throttle rules
  // with `cluster = true` for all the nodes together.
  std::string redis;                // HOST:PORT; "" = no cluster
  std::string redis_user;           // ACL user ("" = the password alone)
  std::string redis_password_file;  // or RINGMTA_REDIS_PASSWORD; neither = no AUTH
  bool redis_tls = false;           // TLS to Redis (its tls-port)
  std::string redis_ca_file;        // CAs to verify Redis's certificate (default: the system's)
  std::string redis_tls_name;       // the name to verify it against (default: --redis's host)
  std::string redis_cert;           // a client certificate (tls-auth-clients), PEM
  std::string redis_key;            // its key (default: in the --redis-cert file)
  std::string cluster_name = "ringmta";  // the Redis keys' prefix: one cluster per name
  std::string cluster_node;              // this node's id (default HOSTNAME:PID)
  int cluster_nodes = 1;  // nodes assumed for the fallback share if Redis was never reached
};

Result<engine::RouteConfig> build_route(const RouteSettings& settings);

// What of the settings shapes each copy rather than the route: the EHLO name (and so the
// Message-IDs' domain), --sender, the DKIM keys; for `ringmta render`, which needs no route.
// build_route() takes these from here too.
struct CopySettings {
  std::string ehlo_name;
  std::string message_id_domain;
  std::string sender_override;  // "" = the message's From:
  std::vector<dkim::SigningKey> dkim_keys;
  bool dkim_required = false;
  std::vector<std::string> warnings;  // e.g. an EHLO name that is not a domain name
};
Result<CopySettings> build_copy_settings(const RouteSettings& settings);

// --shards, or one per core.
int shard_count(const RouteSettings& settings);

}  // namespace ringmta::config
