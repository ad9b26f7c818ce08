// DirectRouter implementation.
#include "engine/direct_router.h"

#include <algorithm>

namespace ringmta::engine {

DirectRouter::DirectRouter(EventLoop& loop, const RouteConfig& config,
                           DestinationResolver& resolver, LimitSharing sharing, OutcomeSink& sink,
                           MessageCache& messages, MessageComposer& composer,
                           metrics::ShardCounters& counters)
    : loop_(loop),
      config_(config),
      resolver_(resolver),
      sharing_(sharing),
      sink_(sink),
      messages_(messages),
      composer_(composer),
      counters_(counters) {}

DirectRouter::~DirectRouter() = default;

void DirectRouter::add(storage::QueueEntry entry) {
  if (shutting_down_) return sink_.released(entry);
  DomainState& state = domains_[entry.domain];
  if (state.route != nullptr && loop_.now() - state.resolved_at < kReresolveAfter) {
    state.route->add(std::move(entry));
    return;
  }
  std::string domain = entry.domain;
  state.waiting.push_back(std::move(entry));
  if (state.resolving) return;
  state.resolving = true;
  ++resolving_;
  resolver_.resolve(
      domain, [this, domain](const DestinationResult& result) { on_resolved(domain, result); });
}

void DirectRouter::on_resolved(const std::string& domain, const DestinationResult& result) {
  --resolving_;
  DomainState& state = domains_[domain];
  state.resolving = false;
  std::vector<storage::QueueEntry> waiting;
  waiting.swap(state.waiting);
  if (shutting_down_) {
    for (auto& entry : waiting) sink_.released(entry);
    return;
  }
  if (!result.ok) {
    state.route = nullptr;
    for (auto& entry : waiting) {
      if (result.failure.permanent()) {
        sink_.failed(entry, result.failure, Attempt{});
      } else {
        sink_.deferred(entry, result.failure, Attempt{});
      }
    }
    return;
  }
  state.route = route_for(domain, result.candidates);
  state.resolved_at = loop_.now();
  for (auto& entry : waiting) state.route->add(std::move(entry));
  state.route->kick();
}

ThrottleGroup& DirectRouter::throttle_for(const std::string& domain,
                                          const std::vector<MxCandidate>& candidates,
                                          const std::string& mx_set_key, std::string& group_key) {
  std::vector<std::string> mx_hosts;  // names, in preference order, once each
  for (const auto& c : candidates) {
    if (!c.mx_host.empty() &&
        std::find(mx_hosts.begin(), mx_hosts.end(), c.mx_host) == mx_hosts.end()) {
      mx_hosts.push_back(c.mx_host);
    }
  }
  scheduler::ResolvedLimits resolved = rules_->resolve(domain, mx_hosts);
  bool by_rule = resolved.rule != "default";
  group_key = by_rule ? "rule " + resolved.rule : "mx " + mx_set_key;
  auto it = throttles_.find(group_key);
  if (it != throttles_.end()) return *it->second;
  std::string name = by_rule ? "rule " + resolved.rule + " (" + resolved.matched + ")"
                             : "MX " + (mx_hosts.empty() ? domain : mx_hosts.front());
  std::string route =
      by_rule ? "rule " + resolved.rule : "MX " + (mx_hosts.empty() ? domain : mx_hosts.front());
  // A rule for this one domain covers traffic only this shard has (domains are owned by shards);
  // anything else may be shared with the other shards' traffic, and a cluster-wide rule always is
  // (its allowance is where the cluster's leases arrive).
  const bool own = resolved.single_domain && !resolved.limits.cluster;
  auto group = std::make_unique<ThrottleGroup>(std::move(name), std::move(route), resolved.limits,
                                               sharing_, own ? "" : group_key, loop_.now());
  group->resolved_domain = domain;
  group->resolved_hosts = std::move(mx_hosts);
  ThrottleGroup& raw = *group;
  throttles_.emplace(group_key, std::move(group));
  return raw;
}

void DirectRouter::reload_throttles(const scheduler::ThrottleRules& rules) {
  rules_ = &rules;
  for (auto& [key, group] : throttles_) {
    scheduler::ResolvedLimits resolved =
        rules.resolve(group->resolved_domain, group->resolved_hosts);
    group->reload_limits(resolved.limits, sharing_, loop_.now());
  }
}

RouteWorker* DirectRouter::route_for(const std::string& domain,
                                     const std::vector<MxCandidate>& candidates) {
  // Domains with the same MX host set share a route: the key is the sorted set of host names,
  // and the throttle group (one domain may have a rule of its own).
  std::vector<std::string> hosts;
  for (const auto& c : candidates) hosts.push_back(c.mx_host + "@" + c.endpoint.str());
  std::sort(hosts.begin(), hosts.end());
  std::string key;
  for (const auto& h : hosts) key += h + ";";
  std::string group_key;
  ThrottleGroup& throttle = throttle_for(domain, candidates, key, group_key);
  key += "|" + group_key;
  auto it = routes_.find(key);
  if (it != routes_.end()) return it->second.get();
  std::vector<Candidate> list;
  for (const auto& c : candidates) {
    Candidate candidate;
    candidate.target = config_.target;  // TLS context and timeouts of the direct policy
    candidate.target.endpoint = c.endpoint;
    candidate.mx_host = c.mx_host;
    list.push_back(std::move(candidate));
  }
  auto worker = std::make_unique<RouteWorker>(loop_, config_, std::move(list), throttle, sink_,
                                              messages_, composer_, counters_);
  RouteWorker* raw = worker.get();
  routes_.emplace(std::move(key), std::move(worker));
  return raw;
}

void DirectRouter::kick() {
  for (auto& [key, route] : routes_) route->kick();
}

void DirectRouter::release_idle() {
  for (auto& [key, route] : routes_) route->release_idle();
}

void DirectRouter::shutdown() {
  shutting_down_ = true;
  for (auto& [domain, state] : domains_) {
    for (auto& entry : state.waiting) sink_.released(entry);
    state.waiting.clear();
  }
  for (auto& [key, route] : routes_) route->shutdown();
}

void DirectRouter::collect_garbage() {
  for (auto& [key, route] : routes_) route->collect_garbage();
}

std::size_t DirectRouter::backlog() const {
  std::size_t n = 0;
  for (const auto& [key, route] : routes_) n += route->backlog();
  for (const auto& [domain, state] : domains_) n += state.waiting.size();
  return n;
}

bool DirectRouter::busy() const {
  // After shutdown the waiting recipients are released: a lookup still out keeps nothing busy
  // (the shard then destroys the resolver, which drops its callbacks).
  if (resolving_ > 0 && !shutting_down_) return true;
  return std::any_of(routes_.begin(), routes_.end(),
                     [](const auto& r) { return r.second->busy(); });
}

}  // namespace ringmta::engine
