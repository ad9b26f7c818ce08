// Route flags → RouteConfig: resolves the smart host, loads the password and the TLS policy.
#include "cli/route_options.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "message/address.h"

namespace ringmta::cli {

void add_route_options(CLI::App& app, RouteOptions& o) {
  app.add_option("--config",
                 "TOML file with the same settings (flag names without --); flags "
                 "on the command line win");
  app.add_option("--smarthost", o.smarthost, "Smart host: HOST[:PORT], IPv4 or [IPv6]:PORT");
  app.add_flag("--direct", o.direct, "No smart host: deliver to each domain's MX hosts");
  app.add_option("--mx-tls", o.mx_tls,
                 "TLS to MX hosts: opportunistic (default), required, verify, none")
      ->check(CLI::IsMember({"opportunistic", "required", "verify", "none"}));
  app.add_option("--dns-server", o.dns_servers,
                 "DNS server HOST[:PORT] (repeatable; default: resolv.conf)");
  app.add_option("--mx-port", o.mx_port, "Port of MX hosts (default 25; tests use another)");
  app.add_flag("--allow-loopback-mx", o.allow_loopback_mx,
               "Allow MX hosts on loopback addresses (tests)");
  app.add_option("--max-mx-hosts", o.max_mx_hosts, "MX addresses tried before a deferral")
      ->check(CLI::Range(1, 50));
  app.add_option("--bind-address", o.bind_address, "Source address for outgoing connections");
  app.add_option("--tls", o.tls, "starttls (required, default), implicit, or none")
      ->check(CLI::IsMember({"starttls", "implicit", "none"}));
  app.add_option("--ca-file", o.ca_file, "CA certificates (PEM) to verify the smart host with");
  app.add_flag("--insecure", o.insecure, "Do not verify the smart host's certificate or name");
  app.add_option("--user", o.user, "SMTP AUTH user name");
  app.add_option("--password-file", o.password_file,
                 "File holding the password (or set RINGMTA_PASSWORD)");
  app.add_option("--auth", o.auth, "auto, plain, login or cram-md5")
      ->check(CLI::IsMember({"auto", "plain", "login", "cram-md5"}));
  app.add_option("--pop-before-smtp", o.pop_before_smtp,
                 "Log in to this POP3 server (HOST[:PORT]) before connecting");
  app.add_option("--sender", o.sender, "Envelope Sender (MAIL FROM): where bounces go");
  app.add_option("--ehlo", o.ehlo, "EHLO name (default: this host's FQDN)");
  app.add_option("--max-connections", o.max_connections, "Connections to the smart host")
      ->check(CLI::Range(1, 10000));
  app.add_option("--max-messages-per-connection", o.max_messages_per_connection,
                 "Messages sent over one connection before it is closed")
      ->check(CLI::Range(1u, 10000000u));
  app.add_option("--throttle-file", o.throttle_file,
                 "TOML file of per-domain / per-MX-host limits (connections, messages per "
                 "connection, message and connection rates); see README")
      ->check(CLI::ExistingFile);
  app.add_option("--retry-after", o.retry_after, "Seconds before the first retry of a deferral")
      ->check(CLI::Range(int64_t{1}, int64_t{86400 * 30}));
  app.add_option("--max-age", o.max_age, "Seconds a deferred recipient is retried for")
      ->check(CLI::Range(int64_t{1}, int64_t{86400 * 365}));
  app.add_option("--command-timeout", o.command_timeout,
                 "Upper bound on each SMTP command's timeout, seconds (RFC 5321 values below it)")
      ->check(CLI::Range(int64_t{1}, int64_t{3600}));
  app.add_option("--shards", o.shards, "Event-loop threads (default: one per core)")
      ->check(CLI::Range(0, 256));
}

int shard_count(const RouteOptions& o) {
  if (o.shards > 0) return o.shards;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

namespace {

std::string host_fqdn() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

Result<std::string> read_password(const RouteOptions& o) {
  if (!o.password_file.empty()) {
    std::ifstream in(o.password_file);
    if (!in) return make_error("cannot read --password-file " + o.password_file);
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    return line;
  }
  if (const char* env = std::getenv("RINGMTA_PASSWORD")) return std::string(env);
  return make_error("--user needs a password: --password-file FILE or RINGMTA_PASSWORD");
}

}  // namespace

Result<engine::RouteConfig> build_route(const RouteOptions& o) {
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
    engine::DirectDelivery direct;
    direct.tls = o.mx_tls == "required" ? engine::MxTls::kRequired
                 : o.mx_tls == "verify" ? engine::MxTls::kVerify
                 : o.mx_tls == "none"   ? engine::MxTls::kNone
                                        : engine::MxTls::kOpportunistic;
    direct.port = o.mx_port;
    direct.allow_loopback_mx = o.allow_loopback_mx;
    direct.max_hosts_per_attempt = o.max_mx_hosts;
    direct.dns_servers = o.dns_servers;
    protocol_tls = direct.tls == engine::MxTls::kNone            ? protocol::TlsMode::kNone
                   : direct.tls == engine::MxTls::kOpportunistic ? protocol::TlsMode::kOpportunistic
                                                                 : protocol::TlsMode::kStartTls;
    if (direct.tls != engine::MxTls::kNone) {
      engine::TlsPolicy policy{.verify = direct.tls == engine::MxTls::kVerify,
                               .ca_file = o.ca_file};
      auto ctx = engine::TlsContext::client(policy);
      if (!ctx) return make_error("--mx-tls: " + ctx.error().message);
      route.target.tls = ctx.value();
    }
    route.direct = direct;
  } else {
    uint16_t default_port = protocol_tls == protocol::TlsMode::kImplicit ? 465 : 587;
    auto endpoint = engine::resolve_endpoint(o.smarthost, default_port);
    if (!endpoint) return make_error("--smarthost: " + endpoint.error().message);
    route.target.endpoint = endpoint.value();
    if (protocol_tls != protocol::TlsMode::kNone) {
      engine::TlsPolicy policy{.verify = !o.insecure, .ca_file = o.ca_file};
      auto ctx = engine::TlsContext::client(policy);
      if (!ctx) return make_error("--ca-file: " + ctx.error().message);
      route.target.tls = ctx.value();
    }
  }
  if (!o.bind_address.empty()) {
    auto bind = engine::resolve_endpoint(o.bind_address, 0);
    if (!bind) return make_error("--bind-address: " + bind.error().message);
    route.target.bind_address = bind->addr;
  }
  auto& client = route.client;
  client.tls = protocol_tls;
  client.ehlo_name = o.ehlo.empty() ? host_fqdn() : o.ehlo;
  if (!o.user.empty()) {
    auto password = read_password(o);
    if (!password) return password.error();
    client.credentials = protocol::Credentials{o.user, password.value()};
  }
  client.auth = o.auth == "plain"      ? protocol::AuthMechanism::kPlain
                : o.auth == "login"    ? protocol::AuthMechanism::kLogin
                : o.auth == "cram-md5" ? protocol::AuthMechanism::kCramMd5
                                       : protocol::AuthMechanism::kAuto;
  Millis cap = o.command_timeout * 1000;
  for (Millis* t : {&client.timeouts.greeting, &client.timeouts.ehlo, &client.timeouts.starttls,
                    &client.timeouts.auth, &client.timeouts.mail, &client.timeouts.rcpt,
                    &client.timeouts.data, &client.timeouts.data_block, &client.timeouts.final_dot,
                    &client.timeouts.rset, &client.timeouts.quit}) {
    *t = std::min(*t, cap);
  }
  route.target.connect_timeout = std::min<Millis>(30'000, cap);
  route.target.tls_handshake_timeout = std::min<Millis>(120'000, cap);
  route.target.send_timeout = client.timeouts.data_block;
  if (!o.pop_before_smtp.empty()) {
    if (o.user.empty()) return make_error("--pop-before-smtp needs --user and a password");
    auto pop = engine::resolve_endpoint(o.pop_before_smtp, 110);
    if (!pop) return make_error("--pop-before-smtp: " + pop.error().message);
    route.pop_before_smtp = pop.value();
  }
  if (!o.sender.empty()) {
    auto sender = message::parse_address(o.sender);
    if (!sender) return make_error("--sender: " + sender.error().message);
    route.sender_override = sender->str();
  }
  scheduler::Limits builtin;
  builtin.max_connections = static_cast<uint32_t>(o.max_connections);
  builtin.max_messages_per_connection = o.max_messages_per_connection;
  if (o.throttle_file.empty()) {
    route.throttle = scheduler::ThrottleRules(builtin);
  } else {
    auto rules = scheduler::ThrottleRules::load_file(o.throttle_file, builtin);
    if (!rules) return make_error("--throttle-file: " + rules.error().message);
    route.throttle = std::move(rules.value());
  }
  route.retry.first_retry = o.retry_after;
  route.retry.max_age = o.max_age;
  route.facts.credentials_given = client.credentials.has_value();
  route.facts.pop_before_smtp = route.pop_before_smtp.has_value();
  route.facts.tls = protocol_tls;
  route.facts.ehlo_name = client.ehlo_name;
  route.facts.sender = route.sender_override;
  route.facts.user = o.user;
  auto dot = client.ehlo_name.find('.');
  route.message_id_domain =
      dot == std::string::npos ? client.ehlo_name + ".invalid" : client.ehlo_name;
  return route;
}

}  // namespace ringmta::cli
