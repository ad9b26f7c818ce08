// Aggregator implementation.
#include "metrics/aggregator.h"

#include <algorithm>

namespace ringmta::metrics {

Aggregator::Aggregator(AggregatorConfig config, std::vector<const ShardCounters*> shards,
                       std::function<std::string(uint64_t)> campaign_of)
    : config_(std::move(config)),
      shards_(std::move(shards)),
      campaign_of_(std::move(campaign_of)),
      busy_micros_(shards_.size(), 0),
      utilisation_(shards_.size(), 0),
      domains_(config_.labeled_domains) {
  for (const auto& [name, size] : config_.campaign_sizes) campaigns_[name];
}

void Aggregator::update(Millis now, UnixSeconds unix_now) {
  if (started_ == 0) {
    started_ = now;
    last_update_ = now;
  }
  unix_at_ = unix_now;
  totals_ = sum(shards_);
  Millis elapsed = now - last_update_;
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    uint64_t busy = shards_[i]->loop_busy_micros.get();
    if (elapsed > 0) {
      double ratio = static_cast<double>(busy - busy_micros_[i]) / (elapsed * 1000.0);
      utilisation_[i] = std::clamp(ratio, 0.0, 1.0);
    }
    busy_micros_[i] = busy;
  }
  last_update_ = now;
  std::vector<TallyDelta> deltas;
  deltas.reserve(shards_.size());  // domain_batch points into these
  std::vector<const DomainDelta*> domain_batch;
  for (std::size_t shard = 0; shard < shards_.size(); ++shard) {
    TallyDelta& delta = deltas.emplace_back(shards_[shard]->outcomes.take());
    for (const auto& [id, d] : delta.domains) domain_batch.push_back(&d);
    for (auto& [message, counts] : delta.messages) {
      auto it = campaign_names_.find(message);
      if (it == campaign_names_.end()) {
        it = campaign_names_.emplace(message, campaign_of_(message)).first;
        if (config_.campaign_size_of && !config_.campaign_sizes.contains(it->second)) {
          if (auto size = config_.campaign_size_of(it->second)) {
            config_.campaign_sizes[it->second] = *size;
          }
        }
      }
      campaigns_[it->second] += counts;
    }
    for (auto& [due, n] : delta.deferred_until) deferred_until_[due] += n;
    if (delta.last.at != 0) last_reply_ = std::move(delta.last);
    for (auto& [name, state] : delta.routes) {
      if (labeled_routes_.size() < config_.labeled_routes) labeled_routes_.insert(name);
      route_states_[{name, shard}] = std::move(state);
    }
    for (auto& e : delta.throttle_events) add_event(std::move(e));
  }
  domains_.add(domain_batch);
  deferred_until_.erase(deferred_until_.begin(), deferred_until_.upper_bound(unix_now));
  delivered_.sample(now, totals_.delivered);
}

void Aggregator::set_storage(uint64_t live_bytes, uint64_t pending_compaction_bytes) {
  live_bytes_ = live_bytes;
  pending_compaction_bytes_ = pending_compaction_bytes;
}

void Aggregator::set_route_state(bool paused, const std::string& diagnosis, UnixSeconds unix_now) {
  if (paused == paused_ && diagnosis == diagnosis_) return;
  ThrottleEvent e;
  e.at = unix_now;
  e.route = config_.route.empty() ? "direct delivery" : config_.route;
  std::string limit = std::to_string(config_.max_connections);
  if (paused && !paused_) {
    e.change = "paused: connections " + limit + " → 0";
  } else if (!paused && paused_) {
    e.change = "resumed: connections 0 → " + limit;
  } else if (!diagnosis.empty()) {
    e.change = "backing off";
  } else {
    e.change = "recovered";
  }
  e.reason = diagnosis.empty() ? "-" : diagnosis;
  paused_ = paused;
  diagnosis_ = diagnosis;
  add_event(std::move(e));
}

void Aggregator::add_event(ThrottleEvent e) {
  events_.push_back(std::move(e));
  if (events_.size() > kMaxEvents) events_.erase(events_.begin());
}

std::vector<RouteSnapshot> Aggregator::route_rows() const {
  // The shards' states of one route summed; the smart host's row (if any) first, then the busiest
  // routes, the rest summed into "other" so the label set stays bounded.
  std::map<std::string, RouteSnapshot> by_name;
  for (const auto& [key, state] : route_states_) {
    RouteSnapshot& r = by_name[key.first];
    bool first = r.name.empty();
    r.name = key.first;
    r.connections_open += state.connections_open;
    r.connections_allowed += state.connections_allowed;
    // A limit held across the shards (SharedAllowance) is each shard's whole: counted once.
    r.max_connections = state.limits_shared
                            ? std::max<uint64_t>(r.max_connections, state.max_connections)
                            : r.max_connections + state.max_connections;
    if (state.limits_shared)
      r.connections_allowed = std::min<uint64_t>(r.connections_allowed, r.max_connections);
    for (auto [sum, shard] : {std::pair{&r.messages_per_second, state.messages_per_second},
                              std::pair{&r.messages_per_minute, state.messages_per_minute},
                              std::pair{&r.messages_per_hour, state.messages_per_hour}}) {
      *sum = state.limits_shared ? std::max(*sum, shard) : *sum + shard;
    }
    r.backing_off_until = std::max(r.backing_off_until, state.backing_off_until);
    r.max_messages_per_connection = state.max_messages_per_connection;
    r.rate_factor = first ? state.rate_factor : std::min(r.rate_factor, state.rate_factor);
    r.sessions_ok += state.sessions_ok;
    r.sessions_failed += state.sessions_failed;
    if (state.last.at >= r.last.at && state.last.at != 0) r.last = state.last;
  }
  std::vector<RouteSnapshot> rows;
  if (!config_.route.empty()) {
    RouteSnapshot r;
    if (auto it = by_name.find(config_.route); it != by_name.end()) {
      r = std::move(it->second);
      by_name.erase(it);
    } else {
      r.connections_allowed = config_.max_connections;
    }
    r.name = config_.route;
    // Counted before any shard reports a state, and where the route's state is not kept.
    uint64_t closed = std::min(totals_.connections_closed, totals_.connections_opened);
    r.connections_open = totals_.connections_opened - closed;
    r.sessions_ok = totals_.sessions_ready;
    r.sessions_failed = totals_.sessions_failed;
    r.max_connections = config_.max_connections;
    r.max_messages_per_connection = config_.max_messages_per_connection;
    if (paused_) r.connections_allowed = 0;
    r.paused = paused_;
    r.diagnosis = diagnosis_;
    if (last_reply_.at >= r.last.at) r.last = last_reply_;
    rows.push_back(std::move(r));
  }
  // A route keeps the row it was given first (so its counters stay monotonic); the routes that came
  // after the rows ran out are summed into "other".
  std::vector<RouteSnapshot> rest;
  RouteSnapshot other;
  other.name = "other";
  bool any_other = false;
  for (auto& [name, r] : by_name) {
    if (labeled_routes_.count(name) != 0) {
      rest.push_back(std::move(r));
      continue;
    }
    any_other = true;
    other.connections_open += r.connections_open;
    other.connections_allowed += r.connections_allowed;
    other.max_connections += r.max_connections;
    other.sessions_ok += r.sessions_ok;
    other.sessions_failed += r.sessions_failed;
    if (r.last.at >= other.last.at) other.last = r.last;
  }
  std::sort(rest.begin(), rest.end(), [](const RouteSnapshot& a, const RouteSnapshot& b) {
    if (a.connections_open != b.connections_open) return a.connections_open > b.connections_open;
    return a.sessions_ok + a.sessions_failed > b.sessions_ok + b.sessions_failed;
  });
  if (any_other) rest.push_back(std::move(other));
  for (auto& r : rest) rows.push_back(std::move(r));
  return rows;
}

std::shared_ptr<const Snapshot> Aggregator::snapshot(bool finished) const {
  auto s = std::make_shared<Snapshot>();
  s->at = unix_at_;
  s->uptime_seconds = static_cast<double>(last_update_ - started_) / 1000.0;
  s->finished = finished;
  s->totals = totals_;
  s->enqueued = config_.enqueued;
  s->suppressed = config_.suppressed;
  s->unsubscribed = config_.unsubscribed ? config_.unsubscribed() : 0;
  uint64_t at_start = config_.queue_ready_at_start + config_.queue_deferred_at_start;
  uint64_t gone = totals_.delivered + totals_.failed + totals_.withdrawn_suppressed +
                  totals_.withdrawn_cancelled;
  uint64_t total = at_start > gone ? at_start - gone : 0;
  uint64_t deferred = config_.queue_deferred_at_start;
  for (const auto& [due, n] : deferred_until_) deferred += n;
  s->queue_deferred = std::min(deferred, total);
  s->queue_ready = total - s->queue_deferred;
  if (!deferred_until_.empty() && s->queue_deferred > 0)
    s->next_retry_at = deferred_until_.begin()->first;
  s->rocksdb_live_bytes = live_bytes_;
  s->rocksdb_pending_compaction_bytes = pending_compaction_bytes_;
  s->cluster = cluster_;
  s->category_names = config_.category_names;
  s->reply_stage_names = config_.reply_stage_names;
  s->loop_utilisation = utilisation_;
  for (const ShardCounters* c : shards_) {
    s->delivery_latency.add(c->delivery_latency);
    s->transaction_time.add(c->transaction_time);
    s->connect_time.add(c->connect_time);
    s->dns_lookup_time.add(c->dns_lookup_time);
    s->queue_fetch_time.add(c->queue_fetch_time);
  }
  s->delivered_rate = {delivered_.rate(60'000), delivered_.rate(300'000), delivered_.rate(900'000)};
  s->delivered_per_second = delivered_.recent(kChartSeconds);
  s->routes = route_rows();
  for (const auto& [name, counts] : campaigns_) {
    CampaignSnapshot c;
    c.id = name;
    c.counts = counts;
    auto size = config_.campaign_sizes.find(name);
    if (size != config_.campaign_sizes.end()) c.total = size->second;
    s->campaigns.push_back(std::move(c));
  }
  s->domains = domains_.rows();
  s->throttle_events = events_;
  return s;
}

}  // namespace ringmta::metrics
