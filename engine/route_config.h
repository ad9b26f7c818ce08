// RouteConfig: everything a shard needs to deliver through one smart host, built once at start-up
// from the command line or TOML and then only read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/smtp_connection.h"
#include "protocol/diagnosis.h"
#include "protocol/smtp_client.h"
#include "scheduler/retry_policy.h"

namespace ringmta::engine {

struct RouteConfig {
  ConnectionTarget target;        // where and how to connect (TLS context inside)
  protocol::ClientConfig client;  // EHLO name, TLS mode, credentials, AUTH mechanism, timeouts
  std::optional<Endpoint> pop_before_smtp;
  Millis pop_valid_for = 60'000;  // log in to POP3 again before a new batch after this long
  std::string sender_override;    // MAIL FROM for every message if set (--sender at `run`)
  int max_connections = 16;       // for the whole route, split across shards
  uint32_t max_messages_per_connection = 1000;
  uint32_t connect_failures_before_defer = 3;
  scheduler::RetryPolicy retry;
  protocol::RouteFacts facts;     // what was configured, for the diagnosis
  std::string message_id_domain;  // right-hand side of generated Message-IDs
};

}  // namespace ringmta::engine
