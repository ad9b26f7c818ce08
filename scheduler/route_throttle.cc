// RouteThrottle (see route_throttle.h): buckets + AIMD wired to replies. It may not read clocks
// or log.
#include "scheduler/route_throttle.h"

#include <algorithm>

#include "scheduler/slow_down.h"
#include "util/strings.h"

namespace ringmta::scheduler {
namespace {

void add_bucket(std::vector<TokenBucket>& buckets, std::vector<Rate>* rates, Rate rate,
                double burst, Millis now) {
  if (rate.unlimited()) return;
  buckets.emplace_back(rate, burst, now);
  if (rates != nullptr) rates->push_back(rate);
}

}  // namespace

RouteThrottle::RouteThrottle(const Limits& limits, Millis now, ThrottleTuning tuning)
    : limits_(limits),
      tuning_(tuning),
      connections_(
          AimdOptions{.name = "connections",
                      .floor = 1,
                      .ceiling = static_cast<double>(std::max<uint32_t>(1, limits.max_connections)),
                      .initial = -1,
                      .decrease = tuning.decrease,
                      .step = tuning.connection_step,
                      .successes_per_step = tuning.successes_per_step,
                      .decrease_hold = tuning.decrease_hold}),
      rate_(AimdOptions{.name = "rate",
                        .floor = std::clamp(tuning.min_rate_factor, 0.001, 1.0),
                        .ceiling = 1,
                        .initial = 1,
                        .decrease = tuning.decrease,
                        .step = tuning.rate_step,
                        .successes_per_step = tuning.successes_per_step,
                        .decrease_hold = tuning.decrease_hold}) {
  add_bucket(message_buckets_, &message_rates_, limits.messages_per_second, limits.message_burst,
             now);
  add_bucket(message_buckets_, &message_rates_, limits.messages_per_minute, limits.message_burst,
             now);
  add_bucket(message_buckets_, &message_rates_, limits.messages_per_hour, limits.message_burst,
             now);
  add_bucket(open_buckets_, nullptr, limits.connections_per_second, limits.connection_burst, now);
  add_bucket(open_buckets_, nullptr, limits.connections_per_minute, limits.connection_burst, now);
  add_bucket(open_buckets_, nullptr, limits.connections_per_hour, limits.connection_burst, now);
}

namespace {

// All buckets must have a token; only then is one taken from each.
bool take_all(std::vector<TokenBucket>& buckets, Millis now) {
  for (const auto& b : buckets) {
    if (b.next_available(now) > now) return false;
  }
  for (auto& b : buckets) b.try_take(now);
  return true;
}

Millis next_all(const std::vector<TokenBucket>& buckets, Millis now) {
  Millis at = now;
  for (const auto& b : buckets) at = std::max(at, b.next_available(now));
  return at;
}

}  // namespace

bool RouteThrottle::may_open_connection(Millis now, uint32_t open) {
  if (open >= allowed_connections() || next_all(open_buckets_, now) > now) return false;
  if (shared_ != nullptr && !shared_->try_open()) {
    // Another shard's connection must close first; nothing says when: ask again shortly.
    // A cluster's connection lease comes within an agent round or two: ask again soon.
    shared_open_at_ = now + (shared_->leasing() ? kLeaseOpenRetry : kSharedOpenRetry);
    return false;
  }
  return take_all(open_buckets_, now);
}

Millis RouteThrottle::next_open_at(Millis now) const {
  return std::max(next_all(open_buckets_, now), shared_open_at_);
}

void RouteThrottle::connection_closed() {
  if (shared_ != nullptr) shared_->closed();
}

bool RouteThrottle::may_send(Millis now) {
  if (next_all(message_buckets_, now) > now) return false;
  if (shared_ != nullptr && !shared_->try_send(now, shared_send_at_)) return false;
  return take_all(message_buckets_, now);
}

Millis RouteThrottle::next_send_at(Millis now) const {
  return std::max(next_all(message_buckets_, now), shared_send_at_);
}

double RouteThrottle::messages_per_second() const {
  double tightest = 0;
  for (const auto& b : message_buckets_) {
    const double r = b.rate().per_second_value();
    if (tightest == 0 || r < tightest) tightest = r;
  }
  return tightest;
}

void RouteThrottle::apply_rate_factor(Millis now) {
  for (std::size_t i = 0; i < message_buckets_.size(); ++i) {
    Rate scaled = message_rates_[i];
    scaled.count *= rate_.value();
    // The burst shrinks with the rate, so a cut takes effect at once.
    const double burst = limits_.message_burst > 0 ? limits_.message_burst
                                                   : TokenBucket::default_burst(message_rates_[i]);
    message_buckets_[i].set_rate(scaled, now, std::max(1.0, burst * rate_.value()));
  }
}

std::vector<ThrottleChange> RouteThrottle::slow_down(std::string reason, Millis now) {
  std::vector<ThrottleChange> changes;
  if (auto c = connections_.on_slow_down(reason, now)) changes.push_back(std::move(*c));
  if (!message_buckets_.empty()) {
    if (auto c = rate_.on_slow_down(reason, now)) {
      changes.push_back(std::move(*c));
      apply_rate_factor(now);
      // A cluster-wide rule's rate is cut for every node (cluster/rate_factor.h).
      if (shared_ != nullptr && shared_->cluster()) shared_->note_slow_down();
    }
  }
  return changes;
}

std::vector<ThrottleChange> RouteThrottle::on_reply(const protocol::Reply& reply, Millis now) {
  if (is_slow_down(reply)) {
    refused_.clear();
    return slow_down(reply.summary(), now);
  }
  if (is_connection_refused(reply)) return on_connect_failed(reply.summary(), now);
  std::vector<ThrottleChange> changes;
  if (reply.positive()) {
    if (auto c = connections_.on_success(now)) changes.push_back(std::move(*c));
    if (!message_buckets_.empty()) {
      if (auto c = rate_.on_success(now)) {
        changes.push_back(std::move(*c));
        apply_rate_factor(now);
      }
    }
  }
  return changes;
}

std::vector<ThrottleChange> RouteThrottle::on_connect_failed(std::string_view reason, Millis now) {
  if (lower(reason).find("refused") == std::string::npos) return {};
  std::erase_if(refused_, [&](Millis t) { return t + tuning_.refused_window <= now || t > now; });
  refused_.push_back(now);
  if (refused_.size() < std::max<uint32_t>(1, tuning_.refused_burst)) return {};
  std::string why = std::string(reason) + " (" + std::to_string(refused_.size()) +
                    " refused connections within " + std::to_string(tuning_.refused_window / 1000) +
                    " s)";
  refused_.clear();
  return slow_down(std::move(why), now);
}

void RouteThrottle::on_connected(Millis) {
  refused_.clear();
}

}  // namespace ringmta::scheduler
