// DnsDestination: the DestinationResolver of direct delivery on top of dns::Resolver — one c-ares
// resolver per shard, driven by the shard's EventLoop through a DnsDriver, with the policy of
// RFC 5321 §5.1 / RFC 7505 (dns/mx_policy.h). It turns dns::DestinationAddresses into endpoints on
// --mx-port and DNS failures into local replies (NXDOMAIN 550 5.1.2, null MX 556 5.1.10, a failed
// lookup 451 4.4.3).
//
// Single-threaded (the loop's thread). It may not decide routing or touch storage.
#pragma once

#include <memory>

#include "dns/resolver.h"
#include "engine/destination.h"
#include "engine/io/dns_driver.h"
#include "metrics/counters.h"

namespace ringmta::engine {

class DnsDestination final : public DestinationResolver {
 public:
  // Fails if c-ares cannot start or a --dns-server is not an IP literal. `counters` receives the
  // lookup-time histogram; own_addresses: this host's addresses (an MX on one is a mail loop).
  static Result<std::unique_ptr<DnsDestination>> create(EventLoop& loop,
                                                        const DirectDelivery& direct,
                                                        metrics::ShardCounters& counters,
                                                        std::vector<dns::IpAddress> own_addresses);
  ~DnsDestination() override;

  void resolve(const std::string& domain,
               std::function<void(const DestinationResult&)> done) override;

  dns::ResolverStats stats() const { return resolver_->stats(); }

  // What a dns::DestinationAddresses means for the router (public for the unit tests).
  static DestinationResult translate(const dns::DestinationAddresses& found, uint16_t port);

 private:
  DnsDestination(EventLoop& loop, uint16_t port);

  DnsDriver driver_;
  uint16_t port_;
  std::unique_ptr<dns::Resolver> resolver_;  // destroyed before driver_
};

}  // namespace ringmta::engine
