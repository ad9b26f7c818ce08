// The slow-down reply detector (see slow_down.h): code and enhanced-code checks, then lower-cased
// substring wording. Linear in the reply; it may not allocate per pattern or keep state.
#include "scheduler/slow_down.h"

#include <string>
#include <string_view>

#include "util/strings.h"

namespace ringmta::scheduler {
namespace {

template <std::size_t N>
bool contains_any(std::string_view text, const std::string_view (&needles)[N]) {
  for (std::string_view n : needles) {
    if (text.find(n) != std::string_view::npos) return true;
  }
  return false;
}

// Wording that asks for less traffic on any 4xx/5xx.
constexpr std::string_view kRateWording[] = {
    "rate limit",
    "ratelimit",
    "rate-limit",
    "unusual rate",
    "rate that prevents",
    "exceeded the rate",
    "sending rate",
    "throttl",
    "too many connections",
    "too many concurrent",
    "too many sessions",
    "too many smtp sessions",
    "connection limit",
    "too many messages",
    "too fast",
    "too quickly",
    "slow down",
    "server busy",
    "server is busy",
    "unexpected volume",
    "excessive volume",
    "sending quota",
    "try again in an hour",
};

// Wording that looks like rate limiting but is not about us sending too fast.
constexpr std::string_view kNotRate[] = {
    "too many recipients", "on the server", "mailbox full", "over quota", "greylist", "graylist",
};

}  // namespace

bool is_slow_down(const protocol::Reply& reply) {
  if (reply.local || reply.code < 400 || reply.code >= 600) return false;
  const auto& e = reply.enhanced;
  if (reply.code == 421) {
    // A server closing an idle session after its own timeout is not asking us to slow down.
    return !(e && e->subject == 4 && e->detail == 2);
  }
  if (e && e->subject == 2 && e->detail == 2) return false;  // mailbox full
  const std::string text = lower(reply.text());
  if (contains_any(text, kNotRate)) return false;
  if (reply.transient() && e && e->subject == 4 && e->detail == 5) return true;  // congestion
  return contains_any(text, kRateWording);
}

bool is_connection_refused(const protocol::Reply& reply) {
  if (!reply.local || reply.positive()) return false;
  return lower(reply.text()).find("connection refused") != std::string::npos;
}

}  // namespace ringmta::scheduler
