// ClusterAgent (see agent.h): the round over the cluster-wide allowances, the heartbeat, and the
// fallback while Redis is away.
#include "cluster/agent.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <vector>

#include "cluster/connection_lease.h"
#include "cluster/membership.h"
#include "cluster/rate_factor.h"
#include "cluster/rate_lease.h"

namespace ringmta::cluster {

namespace {

// A node's cap on the tokens it leases of a rule: one GCRA per rate, as in Redis but local
// (the rates change with the demanders and the cluster's factor; the arrival times stay).
class NodeCap {
 public:
  // Tokens that fit every rate at `now` (a large number when none is limited).
  int64_t room(const std::vector<LeasedRate>& rates, Millis now) {
    rates_ = rates;
    now_us_ = now * 1000;
    int64_t room = 1'000'000;
    for (std::size_t i = 0; i < rates_.size() && i < arrival_.size(); ++i) {
      if (rates_[i].rate.unlimited()) continue;
      const double interval = interval_us(rates_[i]);
      const double from = std::max(arrival_[i], static_cast<double>(now_us_));
      const double tolerance = std::max(0.0, rates_[i].burst - 1) * interval;
      room = std::min<int64_t>(
          room,
          std::max<int64_t>(0, static_cast<int64_t>(
                                   (static_cast<double>(now_us_) + tolerance - from) / interval) +
                                   1));
    }
    return room;
  }
  // n tokens taken (after room() said they fit).
  void take(uint64_t n) {
    for (std::size_t i = 0; i < rates_.size() && i < arrival_.size(); ++i) {
      if (rates_[i].rate.unlimited()) continue;
      arrival_[i] = std::max(arrival_[i], static_cast<double>(now_us_)) +
                    static_cast<double>(n) * interval_us(rates_[i]);
    }
  }

 private:
  static double interval_us(const LeasedRate& r) {
    return static_cast<double>(r.rate.per_ms) * 1000.0 / r.rate.count;
  }
  std::vector<LeasedRate> rates_;
  int64_t now_us_ = 0;
  std::array<double, 3> arrival_{};  // µs of the monotonic clock, per second/minute/hour rate
};

}  // namespace

struct ClusterAgent::Rule {
  std::shared_ptr<scheduler::SharedAllowance> allowance;
  std::string rate_key;
  std::string lease_key;
  std::string factor_key;
  std::string name;   // the allowance's key, for the log
  double factor = 1;  // the cluster's adaptive share of the rule's rates
  Millis next_factor_read = 0;
  uint32_t demanders = 1;   // nodes that wanted the rule's tokens in the last 250 ms
  NodeCap node_cap;         // this node's fair part of the rule's rates
  int64_t tokens_seen = 0;  // the allowance's tokens after the last round
  Millis next_lease = 0;    // Redis said no token fits before then
  uint32_t leases_held = 0;
  uint32_t contenders = 1;      // nodes holding or waiting for the rule's connections
  uint32_t others_waiting = 0;  // as of the last lease call
  Millis turn_started = 0;      // when this node last went from no lease to some
  Millis next_renew = 0;
  Millis next_grow = 0;      // no room for another connection: ask again then
  Millis last_all_busy = 0;  // the last round every held lease had an open connection
  bool fallen_back = false;
};

namespace {

// Tokens per lease: batch_seconds of the tightest configured rate, at least 1.
int64_t batch_of(const scheduler::Limits& limits, double batch_seconds) {
  double per_second = std::numeric_limits<double>::infinity();
  for (const auto& r :
       {limits.messages_per_second, limits.messages_per_minute, limits.messages_per_hour}) {
    if (!r.unlimited()) per_second = std::min(per_second, r.per_second_value());
  }
  if (std::isinf(per_second)) return 1000;  // no rate: leases only count connections
  return std::max<int64_t>(1, std::llround(per_second * batch_seconds));
}

// The rule's rates as leased: a lease of `batch` tokens needs that much tolerance to be granted
// whole, so the burst is at least the batch (the overshoot the batch size bounds).
std::vector<LeasedRate> rates_of(const scheduler::Limits& limits, int64_t batch) {
  std::vector<LeasedRate> rates;
  for (const auto& r :
       {limits.messages_per_second, limits.messages_per_minute, limits.messages_per_hour}) {
    const double burst =
        limits.message_burst > 0 ? limits.message_burst : scheduler::TokenBucket::default_burst(r);
    rates.push_back({r, std::max(burst, static_cast<double>(batch))});
  }
  return rates;
}

constexpr Millis kReconnectEvery = 1000;
constexpr Millis kHeartbeatEvery = 1000;
constexpr Millis kReleaseIdleAfter = 1000;  // a lease without a connection this long goes back
constexpr Millis kGrowRetry = 50;           // no room for a connection lease: ask again then
constexpr Millis kYield = 200;              // a lease given back to waiting nodes: theirs first
constexpr Millis kTurn = 2000;              // leases held at least this long before yielding
constexpr Millis kSuppressionSyncEvery = 250;
constexpr Millis kFactorReadEvery = 1000;
// Each of N nodes that want a rule's tokens may lease up to this / N of its rate: a node whose
// rounds come first cannot starve the others, and together they can still use the whole.
constexpr double kFairSlack = 1.5;

}  // namespace

ClusterAgent::ClusterAgent(AgentOptions options, scheduler::SharedAllowances& allowances,
                           storage::Queue* queue,
                           std::function<void(std::string_view address)> suppressed_elsewhere)
    : options_(std::move(options)),
      allowances_(allowances),
      suppressed_elsewhere_(std::move(suppressed_elsewhere)) {
  if (options_.node.empty()) options_.node = default_node_id();
  jitter_.seed(static_cast<uint32_t>(std::hash<std::string>{}(options_.node) ^
                                     static_cast<size_t>(monotonic_now())));
  if (queue != nullptr) {
    suppressions_ = std::make_unique<SuppressionSync>(*queue, options_.prefix, options_.node);
  }
  round(monotonic_now());  // joined (or fallen back) and caught up before a shard sends
  thread_ = std::thread([this] { run(); });
}

ClusterAgent::~ClusterAgent() {
  {
    std::lock_guard lock(stop_mutex_);
    stop_ = true;
  }
  stop_wake_.notify_all();
  thread_.join();
}

AgentStatus ClusterAgent::status() const {
  std::lock_guard lock(status_mutex_);
  return status_;
}

void ClusterAgent::run() {
  std::unique_lock lock(stop_mutex_);
  while (!stop_) {
    lock.unlock();
    round(monotonic_now());
    lock.lock();
    // A round every tick, give or take half of one: nodes whose rounds kept the same phase would
    // have the one just ahead take every token the cluster's rate lets through.
    const auto wait =
        std::chrono::microseconds(options_.tick * 500 + jitter() % (options_.tick * 1000 + 1));
    stop_wake_.wait_for(lock, wait, [this] { return stop_; });
  }
  lock.unlock();
  if (!redis_) return;
  // A clean stop: the last suppressions out (the shards have stopped: their hard bounces are in
  // the outbox), the leases and the heartbeat back now rather than when they expire.
  if (suppressions_) {
    next_suppression_sync_ = 0;
    sync_suppressions(monotonic_now());
    if (!redis_) return;
  }
  for (auto& [name, rule] : rules_) {
    if (rule->leases_held == 0) continue;
    ConnectionLeaseRequest give_back{rule->lease_key,
                                     options_.node,
                                     std::max(1u, rule->allowance->limits().max_connections),
                                     options_.lease_ttl,
                                     0,
                                     rule->leases_held};
    if (!hold_connection_leases(*redis_, give_back)) return;
  }
  (void)leave(*redis_, options_.prefix, options_.node);
}

bool ClusterAgent::connect(Millis now) {
  if (redis_) return true;
  if (now < next_connect_) return false;
  next_connect_ = now + kReconnectEvery;
  auto c = RedisConnection::connect(options_.redis);
  if (!c) {
    lost(c.error().message);
    return false;
  }
  redis_ = std::move(c.value());
  auto live = heartbeat(*redis_, options_.prefix, options_.node, options_.lease_ttl, options_.url);
  if (!live) {
    lost(live.error().message);
    return false;
  }
  live_nodes_ = *live;
  next_heartbeat_ = now + kHeartbeatEvery;
  bool was_down;
  {
    std::lock_guard lock(status_mutex_);
    was_down = status_.fallbacks > 0;
    status_.redis_up = true;
    status_.live_nodes = live_nodes_;
    ++status_.redis_calls;
  }
  std::fprintf(stderr, "ringmta: cluster: %s Redis at %s as node %s (%u live node%s)%s\n",
               was_down ? "back on" : "joined through", options_.redis.address.c_str(),
               options_.node.c_str(), live_nodes_, live_nodes_ == 1 ? "" : "s",
               was_down ? ": the cluster-wide limits are shared again" : "");
  for (auto& [name, rule] : rules_) {
    rule->allowance->use_leases();
    rule->fallen_back = false;
    rule->leases_held = 0;
    rule->allowance->set_connection_leases(0);
    rule->next_renew = rule->next_grow = rule->next_lease = 0;
  }
  return true;
}

void ClusterAgent::lost(const std::string& why) {
  const bool was_up = redis_ != nullptr || status().fallbacks == 0;
  redis_.reset();
  const uint32_t share = live_nodes_ > 0 ? live_nodes_ : std::max(1u, options_.fallback_nodes);
  for (auto& [name, rule] : rules_) {
    rule->allowance->fall_back(share);
    rule->fallen_back = true;
    rule->leases_held = 0;
  }
  {
    std::lock_guard lock(status_mutex_);
    status_.redis_up = false;
    if (was_up) ++status_.fallbacks;
    status_.last_error = why;
  }
  if (was_up) {
    std::fprintf(
        stderr,
        "ringmta: cluster: Redis at %s is away (%s): each cluster-wide limit falls back to "
        "this node's share, 1/%u of it, until Redis answers again; delivery goes on\n",
        options_.redis.address.c_str(), why.c_str(), share);
  }
}

void ClusterAgent::round(Millis now) {
  // New cluster-wide allowances (the shards make them as they meet a rule's first domain).
  allowances_.for_each(
      [&](const std::string& name, const std::shared_ptr<scheduler::SharedAllowance>& allowance) {
        if (!allowance->cluster() || rules_.contains(name)) return;
        auto rule = std::make_unique<Rule>();
        rule->allowance = allowance;
        rule->rate_key = key("rate:" + name);
        rule->lease_key = key("connections:" + name);
        rule->factor_key = key("slowdown:" + name);
        rule->name = name;
        rules_.emplace(name, std::move(rule));
      });
  const bool up = connect(now);
  if (!up) {
    const uint32_t share = live_nodes_ > 0 ? live_nodes_ : std::max(1u, options_.fallback_nodes);
    for (auto& [name, rule] : rules_) {
      if (!rule->fallen_back) {
        rule->allowance->fall_back(share);
        rule->fallen_back = true;
      }
    }
    return;
  }
  if (now >= next_heartbeat_) {
    auto live =
        heartbeat(*redis_, options_.prefix, options_.node, options_.lease_ttl, options_.url);
    if (!live) return lost(live.error().message);
    live_nodes_ = *live;
    next_heartbeat_ = now + kHeartbeatEvery;
    std::lock_guard lock(status_mutex_);
    status_.live_nodes = live_nodes_;
    ++status_.redis_calls;
  }
  for (auto& [name, rule] : rules_) {
    serve_rule(*rule, now);
    if (!redis_) return;  // lost on the way
  }
  sync_suppressions(now);
}

void ClusterAgent::sync_suppressions(Millis now) {
  if (!suppressions_ || now < next_suppression_sync_) return;
  next_suppression_sync_ = now + kSuppressionSyncEvery;
  auto published = suppressions_->publish(*redis_);
  if (!published) return lost(published.error().message);
  auto received = suppressions_->pull(*redis_, suppressed_elsewhere_);
  if (!received) return lost(received.error().message);
  if (*received > 0) {
    std::fprintf(stderr, "ringmta: cluster: %llu suppressed address%s from the other nodes\n",
                 static_cast<unsigned long long>(*received), *received == 1 ? "" : "es");
  }
  std::lock_guard lock(status_mutex_);
  status_.redis_calls += 2;
  status_.suppressions_published += *published;
  status_.suppressions_received += *received;
}

void ClusterAgent::serve_rule(Rule& rule, Millis now) {
  scheduler::SharedAllowance& allowance = *rule.allowance;
  const scheduler::Limits limits = allowance.limits();
  uint64_t calls = 0;
  uint64_t leased = 0;

  // The cluster's adaptive factor: cut when a shard here saw a slow-down, read every second.
  const bool slowed = allowance.take_slow_downs() > 0;
  if (slowed || now >= rule.next_factor_read) {
    ++calls;
    auto factor = cluster_rate_factor(*redis_, rule.factor_key, slowed);
    if (!factor) return lost(factor.error().message);
    rule.next_factor_read = now + kFactorReadEvery;
    if (*factor < rule.factor - 0.01 || (*factor >= 1 && rule.factor < 1)) {
      std::fprintf(stderr, "ringmta: cluster: %s: the cluster-wide rate is %.0f%% of the limit%s\n",
                   rule.name.c_str(), *factor * 100,
                   *factor >= 1 ? " again"
                   : slowed     ? " (this node saw a slow-down signal)"
                                : " (another node saw a slow-down signal)");
    }
    rule.factor = *factor;
  }

  // Message tokens: a batch of the rule's rates (scaled by the factor) when the allowance runs
  // low and a shard wants them.
  scheduler::Limits scaled = limits;
  for (scheduler::Rate* r :
       {&scaled.messages_per_second, &scaled.messages_per_minute, &scaled.messages_per_hour}) {
    if (!r->unlimited()) r->count *= rule.factor;
  }
  const int64_t batch = batch_of(scaled, options_.batch_seconds);
  const int64_t tokens = allowance.tokens();
  const bool spending = tokens < rule.tokens_seen;
  const bool starved = allowance.take_token_misses() > 0;
  // This node's cap: kFairSlack / demanders of the cluster's rate, so that the node whose rounds
  // come first cannot take every token while others want some (with one demander: the whole).
  const double cap_share = std::min(1.0, kFairSlack / rule.demanders);
  scheduler::Limits cap = scaled;
  for (scheduler::Rate* r :
       {&cap.messages_per_second, &cap.messages_per_minute, &cap.messages_per_hour}) {
    if (!r->unlimited()) r->count *= cap_share;
  }
  const int64_t room = rule.node_cap.room(rates_of(cap, batch), now);
  if ((spending || starved) && tokens <= batch / 2 && now >= rule.next_lease && room > 0) {
    ++calls;
    auto grant = lease_tokens(
        *redis_, rule.rate_key, rates_of(scaled, batch),
        static_cast<uint64_t>(std::min(room, batch - std::max<int64_t>(0, tokens))), options_.node);
    if (!grant) return lost(grant.error().message);
    rule.demanders = grant->demanders;
    if (grant->granted > 0) {
      allowance.add_tokens(static_cast<int64_t>(grant->granted));
      rule.node_cap.take(grant->granted);
      leased += grant->granted;
    } else {
      rule.next_lease = now + std::max<Millis>(1, grant->retry_after);
      allowance.set_tokens_due(rule.next_lease);
    }
  }
  rule.tokens_seen = allowance.tokens();

  // Connection leases: one more when a shard was refused for want of one, the idle ones back
  // after a second, all renewed a third of the TTL before they expire. While other nodes wait,
  // a node that has had its turn (kTurn) keeps no more than its fair share: it opens no new
  // connection above it and gives each lease above it back as its connection closes (with more
  // contenders than connections the fair share is none: the leases go round), then lets the
  // others ask first (kYield).
  const uint32_t max = limits.max_connections;
  if (max == 0) {
    allowance.set_connection_leases(std::numeric_limits<uint32_t>::max());
  } else {
    const uint32_t open = allowance.open_connections();
    const uint64_t misses = allowance.take_connection_misses();
    const bool refused = misses > 0;
    const uint32_t fair = rule.contenders > max ? 0 : (max + rule.contenders - 1) / rule.contenders;
    const bool yielding =
        rule.others_waiting > 0 && rule.leases_held > fair && now - rule.turn_started >= kTurn;
    if (open >= rule.leases_held) rule.last_all_busy = now;
    uint32_t wanted = rule.leases_held;
    if (yielding) {
      wanted = std::max(fair, open);
      if (wanted < rule.leases_held) rule.next_grow = now + kYield;
    } else if (refused && rule.leases_held < max && now >= rule.next_grow) {
      // As many more as the shards asked for (each refused open is one), at least one.
      wanted = static_cast<uint32_t>(std::min<uint64_t>(
          max, std::max(open, rule.leases_held) + std::max<uint64_t>(1, misses)));
    } else if (open < rule.leases_held && now - rule.last_all_busy >= kReleaseIdleAfter) {
      wanted = open;
    }
    if (wanted != rule.leases_held || now >= rule.next_renew) {
      ++calls;
      auto held = hold_connection_leases(
          *redis_, ConnectionLeaseRequest{rule.lease_key, options_.node, max, options_.lease_ttl,
                                          wanted, rule.leases_held});
      if (!held) return lost(held.error().message);
      if (held->held < wanted) rule.next_grow = std::max(rule.next_grow, now + kGrowRetry);
      if (held->held > rule.leases_held && rule.leases_held == 0) rule.turn_started = now;
      rule.leases_held = held->held;
      rule.contenders = held->contenders;
      rule.others_waiting = held->others_waiting;
      rule.next_renew = now + options_.lease_ttl / 3;
    }
    allowance.set_connection_leases(yielding ? std::min(fair, rule.leases_held) : rule.leases_held);
  }
  if (calls > 0) {
    std::lock_guard lock(status_mutex_);
    status_.redis_calls += calls;
    status_.tokens_leased += leased;
  }
}

}  // namespace ringmta::cluster
