// DestinationResolver: where a domain's mail goes in direct delivery — its MX hosts' addresses in
// the order to try them, or why there is nowhere to go (permanent: NXDOMAIN, null MX; transient:
// the lookup failed). The DNS part (dns/) implements it; the router only consumes it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/io/event_loop.h"
#include "engine/io/tcp_stream.h"
#include "engine/route_config.h"
#include "protocol/smtp_reply.h"

namespace ringmta::engine {

struct MxCandidate {
  std::string mx_host;  // the MX target name (the domain itself for an implicit MX)
  int preference = 0;
  Endpoint endpoint;  // address and port; endpoint.host == mx_host
};

struct DestinationResult {
  bool ok = false;
  std::vector<MxCandidate> candidates;  // when ok: in the order to try
  protocol::Reply failure;              // when !ok: permanent (5.1.2, 5.1.10) or transient (4.4.3)
};

class DestinationResolver {
 public:
  virtual ~DestinationResolver() = default;
  // done runs on the loop thread, later (never inside this call).
  virtual void resolve(const std::string& domain,
                       std::function<void(const DestinationResult&)> done) = 0;
};

}  // namespace ringmta::engine
