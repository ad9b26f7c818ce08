// DnsDestination implementation.
#include "engine/dns_destination.h"

namespace ringmta::engine {

DnsDestination::DnsDestination(EventLoop& loop, uint16_t port) : driver_(loop), port_(port) {}

DnsDestination::~DnsDestination() {
  resolver_.reset();  // c-ares closes its sockets through the driver, which must still exist
}

Result<std::unique_ptr<DnsDestination>> DnsDestination::create(
    EventLoop& loop, const DirectDelivery& direct, metrics::ShardCounters& counters,
    std::vector<dns::IpAddress> own_addresses) {
  std::unique_ptr<DnsDestination> self(new DnsDestination(loop, direct.port));
  dns::ResolverOptions options;
  options.servers = direct.dns_servers;
  options.max_mx_hosts = static_cast<std::size_t>(std::max(1, direct.max_hosts_per_attempt));
  options.policy.allow_loopback = direct.allow_loopback_mx;
  options.policy.own_addresses = std::move(own_addresses);
  options.on_lookup = [&counters](const dns::LookupEvent& e) {
    counters.dns_lookup_time.observe_micros(static_cast<uint64_t>(e.micros));
  };
  auto resolver = dns::Resolver::create(self->driver_, std::move(options));
  if (!resolver) return resolver.error();
  self->resolver_ = std::move(resolver.value());
  return self;
}

void DnsDestination::resolve(const std::string& domain,
                             std::function<void(const DestinationResult&)> done) {
  resolver_->resolve_destination(
      domain, [port = port_, done = std::move(done)](const dns::DestinationAddresses& found) {
        done(translate(found, port));
      });
}

DestinationResult DnsDestination::translate(const dns::DestinationAddresses& found, uint16_t port) {
  DestinationResult result;
  if (!found.ok()) {
    const dns::DnsFailure& f = *found.failure;
    int code = !f.permanent ? 451 : f.enhanced_code == "5.1.10" ? 556 : 550;
    result.failure = protocol::Reply::make_local(code, f.enhanced_code, f.text);
    return result;
  }
  result.ok = true;
  for (const dns::Candidate& c : found.candidates) {
    MxCandidate candidate;
    candidate.mx_host = c.host;
    candidate.preference = c.preference;
    candidate.endpoint.len = c.address.to_sockaddr(port, &candidate.endpoint.addr);
    candidate.endpoint.host = c.host;
    result.candidates.push_back(std::move(candidate));
  }
  return result;
}

}  // namespace ringmta::engine
