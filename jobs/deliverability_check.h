// check_deliverability: `ringmta check --deliverability`. Looks up, through the route's DNS
// servers, the records that decide whether Gmail, Yahoo and Outlook accept a sender's mail —
// SPF of the envelope Sender's domain for the address(es) the mail leaves from (this machine's
// with --direct, the smart host's otherwise), each configured DKIM selector's key, DMARC of the
// From: domain, the Sender domain's MX, and with --direct the PTR of the source address and its
// forward confirmation, and whether an MX host of the big providers answers on port 25 from here
// — and hands them to deliverability::assess for the verdicts.
// It may not print (the command does), or send mail.
#pragma once

#include <string>
#include <vector>

#include "deliverability/assessment.h"
#include "engine/route_config.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::jobs {

struct DeliverabilityQuestion {
  std::string from;    // the From: address
  std::string sender;  // the envelope Sender ("" = from)
  // The DNS servers to ask (HOST[:PORT]); empty: the route's (--direct), else /etc/resolv.conf.
  std::vector<std::string> dns_servers;
  // With --direct: whether an MX host of each of these domains greets from here on the route's
  // MX port (outbound port 25 is blocked on many networks). Empty: not probed.
  std::vector<std::string> port25_domains{"gmail.com", "outlook.com", "yahoo.com"};
  Millis greeting_timeout = 5000;
};

// Errors: a bad address, or a resolver that cannot start; DNS failures are findings.
Result<std::vector<deliverability::Finding>> check_deliverability(
    const engine::RouteConfig& route, const DeliverabilityQuestion& question);

}  // namespace ringmta::jobs
