// OutcomeTally: a shard's outcomes per domain and per message (campaign), plus the due times of
// deferrals, the last refusal seen, the state of its routes and the throttle changes they made,
// handed to the supervisor in batches.
//
// The shard thread counts into a private table (no lock, no atomics) and publish() moves it to a
// mutex-guarded hand-off at most every kPublishEvery; the supervisor take()s the hand-off. So the
// hot path never touches a line another thread writes, and the lock is taken a few times a second.
// It may not: bound or rank domains (DomainTable does), or be written by more than one thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/time.h"

namespace ringmta::metrics {

struct OutcomeCounts {
  uint64_t delivered = 0, deferred = 0, failed = 0;
  uint64_t total() const { return delivered + deferred + failed; }
  OutcomeCounts& operator+=(const OutcomeCounts& o) {
    delivered += o.delivered;
    deferred += o.deferred;
    failed += o.failed;
    return *this;
  }
};

enum class Outcome { kDelivered, kDeferred, kFailed };

// "delivered", "deferred" or "failed": an outcome's metrics label and JSON value.
constexpr std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kDelivered:
      return "delivered";
    case Outcome::kDeferred:
      return "deferred";
    case Outcome::kFailed:
      return "failed";
  }
  return "delivered";
}

struct LastReply {
  std::string text;  // "451 4.3.0 try later"
  UnixSeconds at = 0;
  Outcome outcome = Outcome::kDeferred;
  bool operator==(const LastReply&) const = default;
};

// One route of one shard as it stands (a throttle group: the smart host, a rule's MX hosts, one
// MX host set). The supervisor sums the shards' states of a route by name.
struct RouteState {
  std::string name;  // the metrics label: "HOST:PORT" for the smart host, "MX mx1.example.net"
  uint32_t connections_open = 0;
  uint32_t connections_allowed = 0;  // what the adaptive throttle allows now
  uint32_t max_connections = 0;      // the configured limit (this shard's share, or the whole)
  bool limits_shared = false;        // the limit is the route's whole, shared with other shards
  uint32_t max_messages_per_connection = 0;
  double rate_factor = 1;  // share of the configured message rate allowed now
  // The configured message rates (this shard's share, or the whole as max_connections; 0: none).
  double messages_per_second = 0, messages_per_minute = 0, messages_per_hour = 0;
  uint64_t sessions_ok = 0, sessions_failed = 0;
  LastReply last;  // the route's last refusal (at == 0: none)
  // The smart host is backed off (its 421s) until then; nothing is sent to it before (0: not).
  UnixSeconds backing_off_until = 0;
  bool operator==(const RouteState&) const = default;
};

// A throttle change with its reason, e.g. {"MX mx.example.net", "connections 8 → 4", "421 ..."}.
struct ThrottleEvent {
  UnixSeconds at = 0;
  std::string route;
  std::string change;
  std::string reason;
};

struct DomainDelta {
  std::string name;
  OutcomeCounts counts;
  int64_t in_hand = 0;  // recipients taken from the queue for delivery less those given back
  LastReply last;       // the last deferral or failure, if any (at == 0: none)
  Outcome last_outcome = Outcome::kDelivered;
};

struct TallyDelta {
  std::unordered_map<uint32_t, DomainDelta> domains;     // by the queue's domain id
  std::unordered_map<uint64_t, OutcomeCounts> messages;  // by message id
  std::map<UnixSeconds, uint64_t> deferred_until;        // deferrals by their new due time
  LastReply last;                                        // the route's last refusal
  std::unordered_map<std::string, RouteState> routes;    // the latest state, by route name
  std::vector<ThrottleEvent> throttle_events;            // oldest first, at most kMaxEvents
  static constexpr std::size_t kMaxEvents = 100;
  bool empty() const {
    return domains.empty() && messages.empty() && deferred_until.empty() && routes.empty() &&
           throttle_events.empty();
  }
  void merge(TallyDelta&& other);
};

class OutcomeTally {
 public:
  static constexpr Millis kPublishEvery = 250;

  // Owner (shard) thread.
  void delivered(uint32_t domain_id, std::string_view domain, uint64_t message);
  void deferred(uint32_t domain_id, std::string_view domain, uint64_t message, UnixSeconds due,
                std::string_view reply, UnixSeconds now);
  void failed(uint32_t domain_id, std::string_view domain, uint64_t message, std::string_view reply,
              UnixSeconds now);
  // A recipient taken from the queue for delivery, and given back (answered, withdrawn or left
  // queued): the difference is the domain's recipients in progress, answered or not.
  void taken(uint32_t domain_id, std::string_view domain);
  void given_back(uint32_t domain_id, std::string_view domain);
  // A route's state, replacing the one reported before under its name.
  void route(RouteState state);
  void throttle_event(ThrottleEvent event);
  // Hands the private table over if kPublishEvery has passed since the last hand-over.
  void publish(Millis now);
  // Hands everything over now: the owner thread, or anyone after the owner thread was joined.
  void flush();

  // Reader (supervisor) thread: what was handed over since the last take().
  TallyDelta take();

 private:
  DomainDelta& domain(uint32_t id, std::string_view name);

  TallyDelta local_;
  Millis next_publish_ = 0;
  std::mutex mutex_;
  TallyDelta handoff_;
};

}  // namespace ringmta::metrics
