// Which SMTP replies mean "slow down" to the throttles: a server's 421, and temporary replies whose
// enhanced code or wording says rate limit, throttling, too many connections or congestion. Also
// recognises ringmta's own "connection refused" replies, which count only in bursts
// (RouteThrottle). Pure functions of the reply; it may not keep state, read clocks or classify
// bounces (bounce/ does).
#pragma once

#include "protocol/smtp_reply.h"

namespace ringmta::scheduler {

// True for a server's reply asking us to send less or more slowly:
//  - 421 (service not available, closing), except 421 4.4.2 (the server's own idle timeout);
//  - a 4xx with enhanced code 4.4.5 (system congestion) or 4.7.x plus rate/throttle wording;
//  - a 4xx or 5xx whose text names a rate limit, throttling, too many connections/messages,
//    sending too fast, a server busy, or an unexpected volume (Gmail, Outlook, Yahoo wordings).
// Not: greylisting, mailbox full, "too many recipients" (a per-transaction limit), ringmta's
// own local replies (see is_connection_refused), or any positive reply.
bool is_slow_down(const protocol::Reply& reply);

// True for ringmta's own reply to a refused TCP connection (local 4xx with "connection refused").
// One is not a slow-down signal; a burst of them is (RouteThrottle counts them).
bool is_connection_refused(const protocol::Reply& reply);

}  // namespace ringmta::scheduler
