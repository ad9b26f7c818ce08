// ThrottleGroup reporting (see throttle_group.h).
#include "engine/throttle_group.h"

#include <cstdio>

namespace ringmta::engine {

namespace {

std::string format_change(const scheduler::ThrottleChange& change) {
  char text[96];
  if (change.name == "rate") {
    std::snprintf(text, sizeof text, "rate %.0f%% -> %.0f%% of the limit", change.old_value * 100,
                  change.new_value * 100);
  } else {
    std::snprintf(text, sizeof text, "%s %.0f -> %.0f", change.name.c_str(), change.old_value,
                  change.new_value);
  }
  return text;
}

// The shard's own limits of `whole`, and the allowance it shares (null: none).
scheduler::Limits own_limits(const scheduler::Limits& whole, const LimitSharing& sharing,
                             const std::string& share_key) {
  if (share_key.empty()) return whole;
  return sharing.allowances != nullptr ? scheduler::local_share(whole, sharing.shards)
                                       : scheduler::shard_share(whole, sharing.shards);
}

}  // namespace

ThrottleGroup::ThrottleGroup(std::string name, std::string route, const scheduler::Limits& whole,
                             const LimitSharing& sharing, std::string key, Millis now)
    : name(std::move(name)),
      route(std::move(route)),
      share_key(std::move(key)),
      throttle(own_limits(whole, sharing, share_key), now) {
  if (!share_key.empty() && sharing.allowances != nullptr) {
    throttle.share(sharing.allowances->get(share_key, whole, now));
  }
}

void ThrottleGroup::reload_limits(const scheduler::Limits& whole, const LimitSharing& sharing,
                                  Millis now) {
  if (const auto& shared = throttle.shared()) shared->set_limits(whole);
  set_limits(own_limits(whole, sharing, share_key), now);
}

void ThrottleGroup::set_limits(const scheduler::Limits& limits, Millis now) {
  if (limits == throttle.limits()) return;
  std::fprintf(
      stderr, "ringmta: throttle %s: limits reloaded: %u connections, %u messages per connection\n",
      name.c_str(), limits.max_connections, limits.max_messages_per_connection);
  auto shared = throttle.shared();
  throttle = scheduler::RouteThrottle(limits, now);
  throttle.share(std::move(shared));  // its connections and tokens are the other shards' too
}

void ThrottleGroup::saw_reply(const protocol::Reply& reply, UnixSeconds now) {
  if (reply.positive() || reply.code == 0) return;
  last_refusal = metrics::LastReply{
      reply.summary(), now,
      reply.permanent() ? metrics::Outcome::kFailed : metrics::Outcome::kDeferred};
}

void ThrottleGroup::report(metrics::OutcomeTally& tally) {
  metrics::RouteState state;
  state.name = route;
  state.connections_open = open_connections;
  state.connections_allowed = throttle.allowed_connections();
  state.max_connections = throttle.limits().max_connections;
  state.limits_shared = throttle.shared() != nullptr;
  state.max_messages_per_connection = throttle.max_messages_per_connection();
  state.rate_factor = throttle.rate_factor();
  const scheduler::Limits& limits = throttle.limits();
  const auto configured = [](const scheduler::Rate& r) { return r.unlimited() ? 0 : r.count; };
  state.messages_per_second = configured(limits.messages_per_second);
  state.messages_per_minute = configured(limits.messages_per_minute);
  state.messages_per_hour = configured(limits.messages_per_hour);
  state.backing_off_until = backing_off_until;
  state.sessions_ok = sessions_ok;
  state.sessions_failed = sessions_failed;
  state.last = last_refusal;
  if (state == reported) return;
  reported = state;
  tally.route(std::move(state));
}

void report_throttle_changes(const ThrottleGroup& group,
                             const std::vector<scheduler::ThrottleChange>& changes,
                             metrics::ShardCounters& counters, UnixSeconds now) {
  for (const auto& change : changes) {
    (change.decrease ? counters.throttle_decreases : counters.throttle_increases).add();
    std::string text = format_change(change);
    std::fprintf(stderr, "ringmta: throttle %s: %s (%s)\n", group.name.c_str(), text.c_str(),
                 change.reason.c_str());
    counters.outcomes.throttle_event({now, group.route, std::move(text), change.reason});
  }
}

}  // namespace ringmta::engine
