// probe_relay: what `ringmta check` does — a session with the smart host the way a delivery
// would open one (POP-before-SMTP first if configured, connect, EHLO, STARTTLS, AUTH), then MAIL
// and RCPT for one recipient, RSET and QUIT, without sending a message; and whether relaying
// would be accepted or, in plain words, why not. Runs on an event loop of its own until the
// probe ends. It may not print: steps worth telling go to `note`.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "engine/route_config.h"
#include "util/result.h"

namespace ringmta::jobs {

struct ProbeOutcome {
  bool accepted = false;
  std::string diagnosis;  // "" when accepted
};

Result<ProbeOutcome> probe_relay(const engine::RouteConfig& route, const std::string& sender,
                                 const std::string& recipient,
                                 const std::function<void(std::string_view)>& note);

}  // namespace ringmta::jobs
