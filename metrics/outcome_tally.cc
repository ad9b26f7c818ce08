// OutcomeTally implementation.
#include "metrics/outcome_tally.h"

namespace ringmta::metrics {

void TallyDelta::merge(TallyDelta&& other) {
  if (empty() && last.at == 0) {
    *this = std::move(other);
    return;
  }
  for (auto& [id, d] : other.domains) {
    auto [it, inserted] = domains.try_emplace(id, std::move(d));
    if (inserted) continue;
    it->second.counts += d.counts;
    it->second.in_hand += d.in_hand;
    it->second.last_outcome = d.last_outcome;
    if (d.last.at != 0) it->second.last = std::move(d.last);
  }
  for (auto& [id, c] : other.messages) messages[id] += c;
  for (auto& [due, n] : other.deferred_until) deferred_until[due] += n;
  if (other.last.at != 0) last = std::move(other.last);
  for (auto& [name, state] : other.routes) routes[name] = std::move(state);
  for (auto& e : other.throttle_events) throttle_events.push_back(std::move(e));
  if (throttle_events.size() > kMaxEvents) {
    throttle_events.erase(throttle_events.begin(),
                          throttle_events.end() - static_cast<std::ptrdiff_t>(kMaxEvents));
  }
}

DomainDelta& OutcomeTally::domain(uint32_t id, std::string_view name) {
  auto [it, inserted] = local_.domains.try_emplace(id);
  if (inserted) it->second.name = name;
  return it->second;
}

void OutcomeTally::delivered(uint32_t domain_id, std::string_view name, uint64_t message) {
  DomainDelta& d = domain(domain_id, name);
  ++d.counts.delivered;
  d.last_outcome = Outcome::kDelivered;
  ++local_.messages[message].delivered;
}

void OutcomeTally::deferred(uint32_t domain_id, std::string_view name, uint64_t message,
                            UnixSeconds due, std::string_view reply, UnixSeconds now) {
  DomainDelta& d = domain(domain_id, name);
  ++d.counts.deferred;
  d.last_outcome = Outcome::kDeferred;
  d.last = LastReply{std::string(reply), now, Outcome::kDeferred};
  ++local_.messages[message].deferred;
  ++local_.deferred_until[due];
  local_.last = d.last;
}

void OutcomeTally::failed(uint32_t domain_id, std::string_view name, uint64_t message,
                          std::string_view reply, UnixSeconds now) {
  DomainDelta& d = domain(domain_id, name);
  ++d.counts.failed;
  d.last_outcome = Outcome::kFailed;
  d.last = LastReply{std::string(reply), now, Outcome::kFailed};
  ++local_.messages[message].failed;
  local_.last = d.last;
}

void OutcomeTally::taken(uint32_t domain_id, std::string_view name) {
  ++domain(domain_id, name).in_hand;
}

void OutcomeTally::given_back(uint32_t domain_id, std::string_view name) {
  --domain(domain_id, name).in_hand;
}

void OutcomeTally::route(RouteState state) {
  std::string name = state.name;
  local_.routes[std::move(name)] = std::move(state);
}

void OutcomeTally::throttle_event(ThrottleEvent event) {
  local_.throttle_events.push_back(std::move(event));
  if (local_.throttle_events.size() > TallyDelta::kMaxEvents) {
    local_.throttle_events.erase(local_.throttle_events.begin());
  }
}

void OutcomeTally::publish(Millis now) {
  if (now < next_publish_) return;
  next_publish_ = now + kPublishEvery;
  flush();
}

void OutcomeTally::flush() {
  if (local_.empty()) return;
  std::lock_guard lock(mutex_);
  handoff_.merge(std::move(local_));
  local_ = TallyDelta();
}

TallyDelta OutcomeTally::take() {
  std::lock_guard lock(mutex_);
  TallyDelta out = std::move(handoff_);
  handoff_ = TallyDelta();
  return out;
}

}  // namespace ringmta::metrics
