// ThrottleRules: the TOML rule file and the first-match lookup (see throttle_rules.h).
// toml++ throws on bad syntax: that is caught here and turned into an Error naming the file.
// It may not read clocks, do DNS or keep per-route state.
#include "scheduler/throttle_rules.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "util/file.h"
#include "util/strings.h"
#include "util/toml_document.h"

namespace ringmta::scheduler {
namespace {

constexpr std::size_t kMaxRules = 10'000;
constexpr std::size_t kMaxNamesPerRule = 1'000;

std::string normalized(std::string_view name) {
  std::string out = lower(name);
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

bool valid_host_chars(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return s.front() != '.' && s.find("..") == std::string_view::npos;
}

Result<std::vector<std::string>> name_list(const toml::node& node) {
  std::vector<std::string> out;
  auto one = [&](const toml::node& item) -> bool {
    auto s = item.value_exact<std::string>();
    if (!s) return false;
    out.push_back(*s);
    return true;
  };
  if (const toml::array* list = node.as_array()) {
    if (list->size() > kMaxNamesPerRule) {
      return make_error("has more than " + std::to_string(kMaxNamesPerRule) + " items");
    }
    for (const auto& item : *list) {
      if (!one(item)) return make_error("must list strings");
    }
    if (out.empty()) return make_error("is an empty list");
    return out;
  }
  if (!one(node)) return make_error("must be a string or a list of strings");
  return out;
}

Result<uint32_t> positive_count(const toml::node& node, uint32_t max) {
  auto i = node.value_exact<int64_t>();
  if (!i || *i < 1 || *i > static_cast<int64_t>(max)) {
    return make_error("must be an integer from 1 to " + std::to_string(max));
  }
  return static_cast<uint32_t>(*i);
}

Result<double> number(const toml::node& node, double min) {
  std::optional<double> v;
  if (auto i = node.value_exact<int64_t>()) v = static_cast<double>(*i);
  if (auto d = node.value_exact<double>()) v = *d;
  if (!v || !std::isfinite(*v) || *v < min || *v > 1e9) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "must be a number from %g to 1e9", min);
    return make_error(buf);
  }
  return *v;
}

constexpr std::string_view kKnownKeys =
    "max_connections, max_messages_per_connection, max_recipients_per_transaction, "
    "messages_per_second, messages_per_minute, messages_per_hour, message_burst, "
    "connections_per_second, connections_per_minute, connections_per_hour, connection_burst, "
    "cluster";

// One limit key into settings. Returns false (no error) for a key that is not a limit.
Result<bool> parse_limit(std::string_view key, const toml::node& node, LimitSettings& s) {
  auto count = [&](std::optional<uint32_t>& out, uint32_t max) -> Result<bool> {
    auto v = positive_count(node, max);
    if (!v) return v.error();
    out = *v;
    return true;
  };
  auto rate = [&](std::optional<Rate>& out, Rate (*make)(double)) -> Result<bool> {
    auto v = number(node, 0);  // 0 = unlimited (lifts a [default] rate for one rule)
    if (!v) return v.error();
    out = make(*v);
    return true;
  };
  auto burst = [&](std::optional<double>& out) -> Result<bool> {
    auto v = number(node, 1);
    if (!v) return v.error();
    out = *v;
    return true;
  };
  if (key == "max_connections") return count(s.max_connections, 100'000);
  if (key == "max_messages_per_connection") return count(s.max_messages_per_connection, 1u << 30);
  if (key == "max_recipients_per_transaction") {
    return count(s.max_recipients_per_transaction, 100'000);
  }
  if (key == "messages_per_second") return rate(s.messages_per_second, &Rate::per_second);
  if (key == "messages_per_minute") return rate(s.messages_per_minute, &Rate::per_minute);
  if (key == "messages_per_hour") return rate(s.messages_per_hour, &Rate::per_hour);
  if (key == "message_burst") return burst(s.message_burst);
  if (key == "connections_per_second") return rate(s.connections_per_second, &Rate::per_second);
  if (key == "connections_per_minute") return rate(s.connections_per_minute, &Rate::per_minute);
  if (key == "connections_per_hour") return rate(s.connections_per_hour, &Rate::per_hour);
  if (key == "connection_burst") return burst(s.connection_burst);
  if (key == "cluster") {
    auto v = node.value_exact<bool>();
    if (!v) return make_error("must be true or false");
    s.cluster = *v;
    return true;
  }
  return false;
}

Result<LimitSettings> parse_default(const toml::table& table, const std::string& label) {
  LimitSettings s;
  for (const auto& [key, node] : table) {
    const std::string k(key.str());
    auto r = parse_limit(k, node, s);
    if (!r) return make_error(label + ": '" + k + "' " + r.error().message);
    if (!*r) {
      return make_error(label + ": unknown key '" + k + "' (known: " + std::string(kKnownKeys) +
                        ")");
    }
  }
  return s;
}

Result<ThrottleRule> parse_rule(const toml::table& table, const std::string& source,
                                std::size_t number_in_file) {
  ThrottleRule rule;
  if (auto n = table["name"].value_exact<std::string>()) rule.name = *n;
  std::string label = source + ": rule " + std::to_string(number_in_file);
  if (!rule.name.empty()) label += " (" + rule.name + ")";
  for (const auto& [key, node] : table) {
    const std::string k(key.str());
    auto fail = [&](const std::string& why) { return make_error(label + ": '" + k + "' " + why); };
    if (k == "name") {
      if (!node.value_exact<std::string>()) return fail("must be a string");
    } else if (k == "domains" || k == "domain") {
      auto items = name_list(node);
      if (!items) return fail(items.error().message);
      for (const auto& item : *items) {
        std::string d = normalized(item);
        if (d.find('*') != std::string::npos) {
          return fail("has a wildcard '" + item + "': domains match exactly; use mx = [\"" + item +
                      "\"] for MX host patterns");
        }
        if (!valid_host_chars(d)) return fail("has an invalid domain name '" + item + "'");
        rule.domains.push_back(std::move(d));
      }
    } else if (k == "mx") {
      auto items = name_list(node);
      if (!items) return fail(items.error().message);
      for (const auto& item : *items) {
        std::string p = normalized(item);
        std::string_view rest = p;
        if (rest.starts_with("*.")) rest.remove_prefix(2);
        if (!valid_host_chars(rest) || rest.find('*') != std::string_view::npos) {
          return fail("has an invalid MX host pattern '" + item +
                      "' (a host name or *.suffix, e.g. \"*.google.com\")");
        }
        rule.mx_patterns.push_back(std::move(p));
      }
    } else {
      auto r = parse_limit(k, node, rule.settings);
      if (!r) return fail(r.error().message);
      if (!*r) {
        return make_error(label + ": unknown key '" + k + "' (known: name, domains, mx, " +
                          std::string(kKnownKeys) + ")");
      }
    }
  }
  if (rule.domains.empty() && rule.mx_patterns.empty()) {
    return make_error(label + ": needs 'domains' or 'mx' (what the rule applies to)");
  }
  if (rule.name.empty()) rule.name = source + "#" + std::to_string(number_in_file);
  return rule;
}

}  // namespace

void LimitSettings::apply_to(Limits& l) const {
  if (max_connections) l.max_connections = *max_connections;
  if (max_messages_per_connection) l.max_messages_per_connection = *max_messages_per_connection;
  if (max_recipients_per_transaction) {
    l.max_recipients_per_transaction = *max_recipients_per_transaction;
  }
  if (messages_per_second) l.messages_per_second = *messages_per_second;
  if (messages_per_minute) l.messages_per_minute = *messages_per_minute;
  if (messages_per_hour) l.messages_per_hour = *messages_per_hour;
  if (message_burst) l.message_burst = *message_burst;
  if (connections_per_second) l.connections_per_second = *connections_per_second;
  if (connections_per_minute) l.connections_per_minute = *connections_per_minute;
  if (connections_per_hour) l.connections_per_hour = *connections_per_hour;
  if (connection_burst) l.connection_burst = *connection_burst;
  if (cluster) l.cluster = *cluster;
}

Limits shard_share(const Limits& whole, int shards) {
  if (shards <= 1) return whole;
  Limits part = whole;
  const auto n = static_cast<uint32_t>(shards);
  if (whole.max_connections > 0)
    part.max_connections = std::max(1u, (whole.max_connections + n - 1) / n);
  for (Rate* r :
       {&part.messages_per_second, &part.messages_per_minute, &part.messages_per_hour,
        &part.connections_per_second, &part.connections_per_minute, &part.connections_per_hour}) {
    if (!r->unlimited()) r->count /= shards;
  }
  for (double* burst : {&part.message_burst, &part.connection_burst}) {
    if (*burst > 0) *burst = std::max(1.0, *burst / shards);
  }
  return part;
}

Limits local_share(const Limits& whole, int shards) {
  const Limits part = shard_share(whole, shards);
  Limits local = whole;
  local.connections_per_second = part.connections_per_second;
  local.connections_per_minute = part.connections_per_minute;
  local.connections_per_hour = part.connections_per_hour;
  local.connection_burst = part.connection_burst;
  return local;
}

bool mx_pattern_matches(std::string_view pattern, std::string_view host) {
  const std::string p = normalized(pattern);
  const std::string h = normalized(host);
  if (h.empty()) return false;
  if (p.starts_with("*.")) {
    const std::string_view suffix = std::string_view(p).substr(1);  // ".google.com"
    return h.size() > suffix.size() && h.ends_with(suffix);
  }
  return p == h;
}

ThrottleRules::ThrottleRules(Limits builtin) : defaults_(builtin) {}

Result<ThrottleRules> ThrottleRules::parse(std::string_view toml_text, const std::string& source,
                                           Limits builtin) {
  auto parsed = parse_toml_document(toml_text, source);
  if (!parsed) return parsed.error();
  const toml::table& root = parsed.value();
  ThrottleRules out(builtin);
  for (const auto& [key, node] : root) {
    const std::string k(key.str());
    if (k == "default") {
      const toml::table* t = node.as_table();
      if (t == nullptr) return make_error(source + ": 'default' must be a table ([default])");
      auto s = parse_default(*t, source + ": [default]");
      if (!s) return s.error();
      s->apply_to(out.defaults_);
    } else if (k == "rule") {
      const toml::array* list = node.as_array();
      if (list == nullptr || !list->is_array_of_tables()) {
        return make_error(source + ": 'rule' must be an array of tables ([[rule]])");
      }
      if (list->size() > kMaxRules) {
        return make_error(source + ": more than " + std::to_string(kMaxRules) + " rules");
      }
      for (std::size_t i = 0; i < list->size(); ++i) {
        auto rule = parse_rule(*(*list)[i].as_table(), source, i + 1);
        if (!rule) return rule.error();
        out.rules_.push_back(std::move(rule.value()));
      }
    } else {
      return make_error(source + ": unknown top-level key '" + k +
                        "' (expected [default] and [[rule]] tables)");
    }
  }
  return out;
}

Result<ThrottleRules> ThrottleRules::load_file(const std::string& path, Limits builtin) {
  auto text = read_file(path, "throttle rule file", 16u << 20);
  if (!text) return text.error();
  return parse(*text, path, builtin);
}

ResolvedLimits ThrottleRules::resolve(std::string_view domain,
                                      const std::vector<std::string>& mx_hosts) const {
  auto from = [&](const ThrottleRule& rule, std::string matched) {
    ResolvedLimits r{defaults_, rule.name, std::move(matched)};
    rule.settings.apply_to(r.limits);
    return r;
  };
  const std::string d = normalized(domain);
  for (const auto& rule : rules_) {
    for (const auto& name : rule.domains) {
      if (name == d) {
        ResolvedLimits r = from(rule, "domain " + d);
        r.single_domain = rule.domains.size() == 1 && rule.mx_patterns.empty();
        return r;
      }
    }
  }
  for (const auto& rule : rules_) {
    for (const auto& pattern : rule.mx_patterns) {
      for (const auto& host : mx_hosts) {
        if (mx_pattern_matches(pattern, host)) return from(rule, "mx " + normalized(host));
      }
    }
  }
  return ResolvedLimits{defaults_, "default", "default"};
}

}  // namespace ringmta::scheduler
