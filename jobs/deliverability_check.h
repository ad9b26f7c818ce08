// check_deliverability: `ringmta check --deliverability`. Looks up, through the route's DNS
// servers, the records that decide whether Gmail, Yahoo and Outlook accept a sender's mail —
// SPF of the envelope Sender's domain for the address(es) the mail leaves from (this machine's
// with --direct, the smart host's otherwise), each configured DKIM selector's key, DMARC of the
// From: domain, the Sender domain's MX, and with --direct the PTR of the source address and its
// forward confirmation — and hands them to deliverability::assess for the verdicts.
// It may not print (the command does), or send mail.
#pragma once

#include <string>
#include <vector>

#include "deliverability/assessment.h"
#include "engine/route_config.h"
#include "util/result.h"

namespace ringmta::jobs {

// from: the From: address; sender: the envelope Sender ("" = from). Errors: a bad address, or a
// resolver that cannot start; DNS failures are findings.
Result<std::vector<deliverability::Finding>> check_deliverability(const engine::RouteConfig& route,
                                                                  const std::string& from,
                                                                  const std::string& sender);

}  // namespace ringmta::jobs
