// The route flags of `send`, `run`, `check` and `demo` (config::RouteSettings).
#include "cli/route_options.h"

namespace ringmta::cli {

void add_route_options(CLI::App& app, config::RouteSettings& o) {
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
  app.add_option("--tls-name", o.tls_name,
                 "Verify the smart host's certificate against NAME (and send it as SNI) while "
                 "connecting to the --smarthost address, e.g. an IP on the local network");
  app.add_option("--user", o.user, "SMTP AUTH user name");
  app.add_option("--password-file", o.password_file,
                 "File holding the password (or set RINGMTA_PASSWORD)");
  app.add_option("--auth", o.auth, "auto, plain, login or cram-md5")
      ->check(CLI::IsMember({"auto", "plain", "login", "cram-md5"}));
  app.add_option("--pop-before-smtp", o.pop_before_smtp,
                 "Log in to this POP3 server (HOST[:PORT]) before connecting");
  app.add_option("--sender", o.sender, "Envelope Sender (MAIL FROM): where bounces go");
  app.add_option("--ehlo", o.ehlo, "EHLO name (default: this host's FQDN)");
  app.add_option("--dkim-domain", o.dkim.domains,
                 "DKIM-sign mail whose From: is in DOMAIN or a subdomain (repeatable: each key "
                 "gives --dkim-domain, --dkim-selector and --dkim-key, in the same order)");
  app.add_option("--dkim-selector", o.dkim.selectors,
                 "The key's selector: its public key is the TXT record SELECTOR._domainkey.DOMAIN");
  app.add_option("--dkim-key", o.dkim.key_files,
                 "The key's PEM private key file (`ringmta dkim keygen` writes one)");
  app.add_option("--dkim-algorithm", o.dkim.algorithms,
                 "rsa-sha256 or ed25519-sha256 (default: what the key file holds)");
  app.add_option("--dkim-canonicalization", o.dkim.canonicalizations,
                 "HEADER/BODY canonicalization: relaxed/relaxed (default) or simple");
  app.add_option("--dkim-headers", o.dkim.fields,
                 "Fields to sign, colon-separated like h= (default: From, To, Cc, Reply-To, "
                 "Subject, Date, Message-ID, MIME and List-* fields, Feedback-ID)");
  app.add_option("--dkim-oversign", o.dkim.oversign,
                 "Fields signed once more than they appear, so none can be added (default: from; "
                 "\"\" for none)");
  app.add_flag("--dkim-required", o.dkim.required,
               "Never send a copy unsigned: one whose From: domain has no key stays queued");
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
  app.add_option("--redis", o.redis,
                 "Redis (HOST:PORT) shared by the nodes of a cluster: throttle rules with "
                 "cluster = true hold for all the nodes together");
  app.add_option("--redis-user", o.redis_user, "Redis ACL user (default: the password alone)");
  app.add_option("--redis-password-file", o.redis_password_file,
                 "File holding Redis's password (or set RINGMTA_REDIS_PASSWORD)");
  app.add_flag("--redis-tls", o.redis_tls, "TLS to Redis (its tls-port), the certificate verified");
  app.add_option("--redis-ca-file", o.redis_ca_file,
                 "CA certificates (PEM) to verify Redis with (default: the system's)");
  app.add_option("--redis-tls-name", o.redis_tls_name,
                 "Verify Redis's certificate against NAME (default: the --redis host)");
  app.add_option("--redis-cert", o.redis_cert,
                 "Client certificate (PEM) for a Redis with tls-auth-clients");
  app.add_option("--redis-key", o.redis_key,
                 "The client certificate's key (default: in the --redis-cert file)");
  app.add_option("--cluster-name", o.cluster_name,
                 "The cluster's name, the prefix of its Redis keys (default ringmta)");
  app.add_option("--cluster-node", o.cluster_node, "This node's id (default HOSTNAME:PID)");
  app.add_option("--cluster-nodes", o.cluster_nodes,
                 "Nodes assumed when Redis is down from the start: each node then takes "
                 "1/N of a cluster-wide limit (later: the live nodes last counted)")
      ->check(CLI::Range(1, 10000));
  app.add_option("--shards", o.shards, "Event-loop threads (default: one per core)")
      ->check(CLI::Range(0, 256));
}

}  // namespace ringmta::cli
