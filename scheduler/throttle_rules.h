// ThrottleRules: per-destination limits (connections, messages per connection, recipients per
// transaction, message rates, connection-open rate) from a TOML file, and the lookup that gives a
// route its effective limits.
//
// Matching order (the first match wins):
//   1. a rule listing the recipient domain exactly (`domains = ["gmail.com"]`), in file order;
//   2. a rule whose MX host pattern matches one of the route's MX hosts (`mx = ["*.google.com"]`),
//      rules in file order, MX hosts in the order given (preference order);
//   3. the [default] table.
// A rule's unset fields come from [default]; [default]'s unset fields from the built-in Limits.
//
// File format:
//   [default]
//   max_connections = 16
//   messages_per_second = 50
//
//   [[rule]]
//   name = "google"                       # shown in logs (default: FILE#N)
//   domains = ["gmail.com", "googlemail.com"]
//   mx = ["*.google.com", "*.googlemail.com"]
//   max_connections = 5
//   max_messages_per_connection = 100
//   max_recipients_per_transaction = 100
//   messages_per_minute = 600             # also messages_per_second, messages_per_hour
//   message_burst = 10                    # default: one second's worth, at least 1
//   connections_per_minute = 30           # connection-open rate; also _per_second, _per_hour
//   connection_burst = 2
//   cluster = true                        # limits held across the nodes of a cluster (cluster/)
//
// An MX pattern is a host name (exact) or "*.suffix" (any host below suffix, not suffix itself).
// Names are compared case-insensitively, a trailing dot ignored. Parsing returns an Error naming
// the file and the rule ("limits.toml: rule 2 (google): 'max_connections' must be ...").
// It may not read clocks, do DNS, or hold per-route state (RouteThrottle does).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/token_bucket.h"
#include "util/result.h"

namespace ringmta::scheduler {

// Effective limits of a route. 0 / unlimited Rate = no limit.
struct Limits {
  uint32_t max_connections = 16;
  uint32_t max_messages_per_connection = 1000;
  uint32_t max_recipients_per_transaction = 100;
  // Each given rate is its own bucket; a message needs a token from all of them.
  Rate messages_per_second{};
  Rate messages_per_minute{};
  Rate messages_per_hour{};
  double message_burst = 0;  // 0: TokenBucket::default_burst
  Rate connections_per_second{};
  Rate connections_per_minute{};
  Rate connections_per_hour{};
  double connection_burst = 0;
  // The connection and message-rate limits hold for all the nodes of a cluster together (leases
  // from Redis, cluster/agent.h), not for each node; without a cluster: for this node, as usual.
  bool cluster = false;
  bool operator==(const Limits&) const = default;
};

// A rule's (or [default]'s) settings: only the fields it gives.
struct LimitSettings {
  std::optional<uint32_t> max_connections;
  std::optional<uint32_t> max_messages_per_connection;
  std::optional<uint32_t> max_recipients_per_transaction;
  std::optional<Rate> messages_per_second, messages_per_minute, messages_per_hour;
  std::optional<double> message_burst;
  std::optional<Rate> connections_per_second, connections_per_minute, connections_per_hour;
  std::optional<double> connection_burst;
  std::optional<bool> cluster;
  void apply_to(Limits& limits) const;
};

struct ThrottleRule {
  std::string name;
  std::vector<std::string> domains;      // lower-case, no trailing dot
  std::vector<std::string> mx_patterns;  // lower-case, no trailing dot; "*.suffix" or exact
  LimitSettings settings;
};

struct ResolvedLimits {
  Limits limits;
  std::string rule;     // the rule's name, or "default"
  std::string matched;  // "domain gmail.com", "mx alt1.gmail-smtp-in.l.google.com", "default"
  // The rule names this one domain and no MX pattern: only this domain's traffic counts against it.
  bool single_domain = false;
};

class ThrottleRules {
 public:
  // No rules: every route gets `builtin` (e.g. the CLI's --max-connections values).
  explicit ThrottleRules(Limits builtin = {});

  static Result<ThrottleRules> parse(std::string_view toml_text, const std::string& source,
                                     Limits builtin = {});
  static Result<ThrottleRules> load_file(const std::string& path, Limits builtin = {});

  // The effective limits for a recipient domain whose route delivers to mx_hosts (MX host names
  // in preference order; a smart host's name in smart-host mode; may be empty).
  ResolvedLimits resolve(std::string_view domain, const std::vector<std::string>& mx_hosts) const;

  const std::vector<ThrottleRule>& rules() const { return rules_; }
  const Limits& defaults() const { return defaults_; }

 private:
  Limits defaults_;
  std::vector<ThrottleRule> rules_;
};

// One shard's part of limits that several shards' traffic shares: connections and rates divided
// by `shards` (connections rounded up, at least 1; bursts at least 1); the per-connection and
// per-transaction limits are kept as they are.
Limits shard_share(const Limits& whole, int shards);
// A shard's own limits when a SharedAllowance holds the route's connections and message rates
// across shards: the whole, but for the connection-open rates (not shared), which are split.
Limits local_share(const Limits& whole, int shards);

// "*.google.com" matches "alt1.aspmx.l.google.com" but not "google.com"; "mx.example.com" only
// itself. Case-insensitive; trailing dots ignored.
bool mx_pattern_matches(std::string_view pattern, std::string_view host);

}  // namespace ringmta::scheduler
