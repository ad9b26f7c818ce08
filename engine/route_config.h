// RouteConfig: everything a shard needs to deliver through one smart host, built once at start-up
// from the command line or TOML and then only read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/agent.h"
#include "dkim/signing_key.h"
#include "engine/io/smtp_connection.h"
#include "protocol/diagnosis.h"
#include "protocol/smtp_client.h"
#include "scheduler/retry_policy.h"
#include "scheduler/throttle_rules.h"

namespace ringmta::engine {

// How MX hosts are offered TLS in direct delivery (--mx-tls).
enum class MxTls {
  kOpportunistic,  // STARTTLS when offered, no certificate checks; a failed handshake: that host
                   // once more in clear text
  kRequired,       // STARTTLS must be offered and succeed (no certificate checks), else defer
  kVerify,         // as required, and the certificate must be valid for the MX host name
  kNone,           // clear text
};

struct DirectDelivery {
  MxTls tls = MxTls::kOpportunistic;
  uint16_t port = 25;                    // --mx-port (tests use another)
  bool allow_loopback_mx = false;        // an MX on 127.0.0.0/8 or ::1 is an error unless set
  int max_hosts_per_attempt = 5;         // MX hosts (addresses) tried before a deferral
  std::vector<std::string> dns_servers;  // HOST[:PORT]; empty: /etc/resolv.conf
};

struct RouteConfig {
  // Smart host (direct == nullopt) or direct delivery to each domain's MX hosts.
  std::optional<DirectDelivery> direct;
  ConnectionTarget target;        // the smart host (direct: the TLS context and timeouts to use)
  protocol::ClientConfig client;  // EHLO name, TLS mode, credentials, AUTH mechanism, timeouts
  std::optional<Endpoint> pop_before_smtp;
  Millis pop_valid_for = 60'000;  // log in to POP3 again before a new batch after this long
  std::string sender_override;    // MAIL FROM for every message if set (--sender at `run`)
  // Limits for the whole route (a rule's connections and rates are split across the shards that
  // share its traffic): --max-connections and --max-messages-per-connection as the defaults,
  // --throttle-file's [default] and rules over them.
  scheduler::ThrottleRules throttle;
  uint32_t connect_failures_before_defer = 3;
  scheduler::RetryPolicy retry;
  protocol::RouteFacts facts;     // what was configured, for the diagnosis
  std::string message_id_domain;  // right-hand side of generated Message-IDs
  // DKIM: each copy is signed with the keys of its From: domain (every shard its own Signer).
  std::vector<dkim::SigningKey> dkim_keys;
  bool dkim_required = false;  // a copy whose From: domain has no key is deferred, not sent
  // The cluster this node is a part of (--redis): its agent leases the cluster-wide rules'
  // limits; none: every limit is this node's alone.
  std::optional<cluster::AgentOptions> cluster;
  // What the configuration leaves to chance, said once at start ("--ehlo missing: ...").
  std::vector<std::string> warnings;
};

// The smart host's route label in metrics and /status: "HOST:PORT" as configured. The shards'
// throttle group and the supervisor's aggregator both name it so, and their rows merge by it.
inline std::string smart_host_label(const RouteConfig& route) {
  return route.target.endpoint.host + ":" + std::to_string(route.target.endpoint.port());
}

}  // namespace ringmta::engine
