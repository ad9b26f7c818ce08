// RouteSettings → engine::RouteConfig: resolves the smart host, loads the password and the TLS
// policy, the throttle rules and the retry policy.
#include "config/route_settings.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <thread>

#include "message/address.h"
#include "util/strings.h"

namespace ringmta::config {

int shard_count(const RouteSettings& o) {
  if (o.shards > 0) return o.shards;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

namespace {

std::string host_fqdn() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// A secret's first line from `file` (given as `flag`), else the environment variable `env`;
// nullopt when neither is set.
Result<std::optional<std::string>> read_secret(const std::string& file, const char* flag,
                                               const char* env) {
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return make_error(std::string("cannot read ") + flag + " " + file);
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    return std::optional<std::string>(std::move(line));
  }
  if (const char* value = std::getenv(env)) return std::optional<std::string>(value);
  return std::optional<std::string>();
}

Result<std::string> read_password(const RouteSettings& o) {
  auto secret = read_secret(o.password_file, "--password-file", "RINGMTA_PASSWORD");
  if (!secret) return secret.error();
  if (!*secret)
    return make_error("--user needs a password: --password-file FILE or RINGMTA_PASSWORD");
  return std::move(**secret);
}

// --direct: delivery to MX hosts and, unless --mx-tls none, its TLS context. Returns the
// client's TLS mode for MX hosts.
Result<protocol::TlsMode> set_direct_target(engine::RouteConfig& route, const RouteSettings& o) {
  if (!o.tls_name.empty()) {
    return make_error(
        "--tls-name is for a smart host; with --direct each MX host's certificate is "
        "checked against its own name (--mx-tls verify)");
  }
  engine::DirectDelivery direct;
  direct.tls = o.mx_tls == "required" ? engine::MxTls::kRequired
               : o.mx_tls == "verify" ? engine::MxTls::kVerify
               : o.mx_tls == "none"   ? engine::MxTls::kNone
                                      : engine::MxTls::kOpportunistic;
  direct.port = o.mx_port;
  direct.allow_loopback_mx = o.allow_loopback_mx;
  direct.max_hosts_per_attempt = o.max_mx_hosts;
  direct.dns_servers = o.dns_servers;
  const auto protocol_tls = direct.tls == engine::MxTls::kNone ? protocol::TlsMode::kNone
                            : direct.tls == engine::MxTls::kOpportunistic
                                ? protocol::TlsMode::kOpportunistic
                                : protocol::TlsMode::kStartTls;
  if (direct.tls != engine::MxTls::kNone) {
    engine::TlsPolicy policy{.verify = direct.tls == engine::MxTls::kVerify, .ca_file = o.ca_file};
    auto ctx = engine::TlsContext::client(policy);
    if (!ctx) return make_error("--mx-tls: " + ctx.error().message);
    route.target.tls = ctx.value();
  }
  route.direct = direct;
  return protocol_tls;
}

// An IPv4 or IPv6 literal, as --smarthost gave it (without brackets).
bool is_address(const std::string& host) {
  in_addr v4{};
  in6_addr v6{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

// A host name as a certificate or EHLO carries it: letters, digits, '-' and inner dots only, so
// nothing that could end a command line (CR, LF) or change its meaning (spaces) gets through.
Result<void> check_tls_name(const std::string& name) {
  if (is_host_name(name)) return {};
  return make_error("--tls-name " + name +
                    ": not a host name (the name the server's certificate carries, e.g. "
                    "mail.example.net)");
}

// --ehlo: a host name, or an address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]").
Result<void> check_ehlo_name(const std::string& name) {
  if (is_host_name(name)) return {};
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    std::string address = name.substr(1, name.size() - 2);
    if (address.starts_with("IPv6:")) address.erase(0, 5);
    if (is_address(address)) return {};
  }
  // The value is not echoed: it may hold the very line break that makes it wrong.
  return make_error(
      "--ehlo: not a host name (only letters, digits, '-' and inner dots, e.g. mail.example.org) "
      "nor an address literal ([192.0.2.1])");
}

// --smarthost: its address (the port by default from the TLS mode) and, unless TLS is off, the
// TLS context.
Result<void> set_smarthost_target(engine::RouteConfig& route, const RouteSettings& o,
                                  protocol::TlsMode protocol_tls) {
  uint16_t default_port = protocol_tls == protocol::TlsMode::kImplicit ? 465 : 587;
  auto endpoint = engine::resolve_endpoint(o.smarthost, default_port);
  if (!endpoint) return make_error("--smarthost: " + endpoint.error().message);
  route.target.endpoint = endpoint.value();
  if (protocol_tls != protocol::TlsMode::kNone) {
    engine::TlsPolicy policy{.verify = !o.insecure, .ca_file = o.ca_file};
    auto ctx = engine::TlsContext::client(policy);
    if (!ctx) return make_error("--ca-file: " + ctx.error().message);
    route.target.tls = ctx.value();
  } else if (!o.tls_name.empty()) {
    return make_error("--tls-name names the certificate to expect, but --tls none uses no TLS");
  }
  if (!o.tls_name.empty()) {
    auto name = check_tls_name(o.tls_name);
    if (!name) return name.error();
    route.target.tls_name = o.tls_name;
  }
  return {};
}

// Every per-command timeout of the client, and the target's connect and TLS handshake timeouts,
// at most --command-timeout.
void cap_timeouts(engine::RouteConfig& route, int64_t command_timeout_seconds) {
  auto& client = route.client;
  Millis cap = command_timeout_seconds * 1000;
  for (Millis* t : {&client.timeouts.greeting, &client.timeouts.ehlo, &client.timeouts.starttls,
                    &client.timeouts.auth, &client.timeouts.mail, &client.timeouts.rcpt,
                    &client.timeouts.data, &client.timeouts.data_block, &client.timeouts.final_dot,
                    &client.timeouts.rset, &client.timeouts.quit}) {
    *t = std::min(*t, cap);
  }
  route.target.connect_timeout = std::min<Millis>(30'000, cap);
  route.target.tls_handshake_timeout = std::min<Millis>(120'000, cap);
  route.target.send_timeout = client.timeouts.data_block;
}

// The throttle rules: --throttle-file's over the built-in limits from --max-connections and
// --max-messages-per-connection, or those limits alone.
Result<void> set_throttle(engine::RouteConfig& route, const RouteSettings& o) {
  scheduler::Limits builtin;
  builtin.max_connections = static_cast<uint32_t>(o.max_connections);
  builtin.max_messages_per_connection = o.max_messages_per_connection;
  if (o.throttle_file.empty()) {
    route.throttle = scheduler::ThrottleRules(builtin);
    return {};
  }
  auto rules = scheduler::ThrottleRules::load_file(o.throttle_file, builtin);
  if (!rules) return make_error("--throttle-file: " + rules.error().message);
  route.throttle = std::move(rules.value());
  return {};
}

// --redis: the cluster's agent options; a cluster-wide rule without it is an error (the rule's
// limits would hold for each node, N times what it says).
Result<void> set_cluster(engine::RouteConfig& route, const RouteSettings& o) {
  bool cluster_rule = route.throttle.defaults().cluster;
  std::string rule_name = "[default]";
  for (const auto& rule : route.throttle.rules()) {
    if (!cluster_rule && rule.settings.cluster.value_or(false)) {
      cluster_rule = true;
      rule_name = "rule " + rule.name;
    }
  }
  if (o.redis.empty()) {
    if (cluster_rule) {
      return make_error("--throttle-file: " + rule_name +
                        " says cluster = true, but no --redis HOST:PORT names the Redis that the "
                        "cluster's nodes share");
    }
    return {};
  }
  auto endpoint = engine::resolve_endpoint(o.redis, 6379);
  if (!endpoint) return make_error("--redis: " + endpoint.error().message);
  cluster::AgentOptions agent;
  agent.redis.address = endpoint->address();
  agent.redis.user = o.redis_user;
  agent.redis.tls = o.redis_tls;
  agent.redis.ca_file = o.redis_ca_file;
  agent.redis.tls_name = o.redis_tls_name.empty() ? endpoint->host : o.redis_tls_name;
  agent.redis.cert_file = o.redis_cert;
  agent.redis.key_file = o.redis_key;
  if (!o.redis_tls && (!o.redis_ca_file.empty() || !o.redis_cert.empty())) {
    return make_error("--redis-ca-file and --redis-cert need --redis-tls");
  }
  auto password =
      read_secret(o.redis_password_file, "--redis-password-file", "RINGMTA_REDIS_PASSWORD");
  if (!password) return password.error();
  agent.redis.password = password->value_or("");
  if (o.cluster_name.empty() || o.cluster_name.find_first_of(" \t\r\n") != std::string::npos) {
    return make_error("--cluster-name must be a word (the prefix of the cluster's Redis keys)");
  }
  agent.prefix = o.cluster_name;
  agent.node = o.cluster_node;
  agent.fallback_nodes = static_cast<uint32_t>(std::max(1, o.cluster_nodes));
  route.cluster = std::move(agent);
  if (!cluster_rule) {
    route.warnings.push_back(
        "--redis given, but no throttle rule says cluster = true: every limit "
        "holds for this node alone");
  }
  return {};
}

// What a refusal's diagnosis is told about the route.
void describe_route(engine::RouteConfig& route, const RouteSettings& o) {
  const auto& client = route.client;
  route.facts.credentials_given = client.credentials.has_value();
  route.facts.pop_before_smtp = route.pop_before_smtp.has_value();
  route.facts.tls = client.tls;
  route.facts.ehlo_name = client.ehlo_name;
  route.facts.sender = route.sender_override;
  route.facts.user = o.user;
  route.facts.smarthost_is_address = !o.direct && is_address(route.target.endpoint.host);
  route.facts.tls_name_given = !o.tls_name.empty();
  route.facts.direct = o.direct;
  std::vector<std::string> signing;
  for (const auto& key : route.dkim_keys) {
    if (std::find(signing.begin(), signing.end(), key.domain) != signing.end()) continue;
    signing.push_back(key.domain);
    route.facts.dkim_domains += (route.facts.dkim_domains.empty() ? "" : ", ") + key.domain;
  }
}

}  // namespace

Result<engine::RouteConfig> build_route(const RouteSettings& o) {
  engine::RouteConfig route;
  if (o.direct == !o.smarthost.empty()) {
    return make_error("give either --smarthost HOST[:PORT] or --direct (deliver to MX hosts)");
  }
  auto protocol_tls = o.tls == "none"       ? protocol::TlsMode::kNone
                      : o.tls == "implicit" ? protocol::TlsMode::kImplicit
                                            : protocol::TlsMode::kStartTls;
  if (o.direct && (!o.user.empty() || !o.pop_before_smtp.empty())) {
    return make_error("--user and --pop-before-smtp are for a smart host, not for --direct");
  }
  if (o.direct) {
    auto mx_tls = set_direct_target(route, o);
    if (!mx_tls) return mx_tls.error();
    protocol_tls = *mx_tls;
  } else if (auto set = set_smarthost_target(route, o, protocol_tls); !set) {
    return set.error();
  }
  if (!o.bind_address.empty()) {
    auto bind = engine::resolve_endpoint(o.bind_address, 0);
    if (!bind) return make_error("--bind-address: " + bind.error().message);
    route.target.bind_address = bind->addr;
  }
  auto& client = route.client;
  client.tls = protocol_tls;
  auto copies = build_copy_settings(o);
  if (!copies) return copies.error();
  client.ehlo_name = copies->ehlo_name;
  route.warnings.insert(route.warnings.end(), copies->warnings.begin(), copies->warnings.end());
  if (!o.user.empty()) {
    auto password = read_password(o);
    if (!password) return password.error();
    client.credentials = protocol::Credentials{o.user, password.value()};
  }
  client.auth = o.auth == "plain"      ? protocol::AuthMechanism::kPlain
                : o.auth == "login"    ? protocol::AuthMechanism::kLogin
                : o.auth == "cram-md5" ? protocol::AuthMechanism::kCramMd5
                                       : protocol::AuthMechanism::kAuto;
  cap_timeouts(route, o.command_timeout);
  if (!o.pop_before_smtp.empty()) {
    if (o.user.empty()) return make_error("--pop-before-smtp needs --user and a password");
    auto pop = engine::resolve_endpoint(o.pop_before_smtp, 110);
    if (!pop) return make_error("--pop-before-smtp: " + pop.error().message);
    route.pop_before_smtp = pop.value();
  }
  route.sender_override = copies->sender_override;
  if (auto set = set_throttle(route, o); !set) return set.error();
  if (auto set = set_cluster(route, o); !set) return set.error();
  route.retry.first_retry = o.retry_after;
  route.retry.max_age = o.max_age;
  route.dkim_keys = std::move(copies->dkim_keys);
  route.dkim_required = copies->dkim_required;
  route.message_id_domain = copies->message_id_domain;
  describe_route(route, o);
  return route;
}

Result<CopySettings> build_copy_settings(const RouteSettings& o) {
  CopySettings out;
  if (!o.ehlo.empty()) {
    if (auto ok = check_ehlo_name(o.ehlo); !ok) return ok.error();
  }
  out.ehlo_name = o.ehlo.empty() ? host_fqdn() : o.ehlo;
  if (o.ehlo.empty() && out.ehlo_name.find('.') == std::string::npos) {
    out.warnings.push_back(
        "no --ehlo, and this host's name \"" + out.ehlo_name +
        "\" is not a domain name: the EHLO will say \"" + out.ehlo_name +
        "\" and Message-IDs will end in @" + out.ehlo_name +
        ".invalid, which receivers distrust (Gmail wants an EHLO name with a PTR record for the "
        "sending address). Pass --ehlo with the host's public name, e.g. --ehlo mail.example.org");
  }
  out.message_id_domain =
      out.ehlo_name.find('.') == std::string::npos ? out.ehlo_name + ".invalid" : out.ehlo_name;
  if (!o.sender.empty()) {
    auto sender = message::parse_address(o.sender);
    if (!sender) return make_error("--sender: " + sender.error().message);
    out.sender_override = sender->str();
  }
  auto keys = load_dkim_keys(o.dkim);
  if (!keys) return keys.error();
  out.dkim_keys = std::move(*keys);
  out.dkim_required = o.dkim.required;
  return out;
}

}  // namespace ringmta::config
