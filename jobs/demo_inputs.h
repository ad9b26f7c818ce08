// The built-in inputs of `ringmta demo`: a personalised newsletter and a recipient list across
// many domains, so the README's first command needs no file. The demo then runs what `send` runs
// (jobs/campaign.h, jobs/delivery_job.h). It may not deliver or print.
#pragma once

#include <cstdint>
#include <string>

#include "util/result.h"

namespace ringmta::jobs {

constexpr const char* kDemoSender = "bounces@demo.ringmta.test";
constexpr const char* kDemoCampaign = "demo";

// RFC 5322 text with {{first_name}}, {{email}} and {{city}} merge fields.
const char* demo_newsletter();

// Writes "email,first_name,city" and `recipients` rows spread over `domains` domains.
Result<void> write_demo_recipients(const std::string& path, uint64_t recipients, int domains);

}  // namespace ringmta::jobs
