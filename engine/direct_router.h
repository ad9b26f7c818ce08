// DirectRouter: direct delivery for one shard. Each domain's recipients wait for one lookup of the
// domain's destination, then go to the RouteWorker of its MX host set; domains whose MX sets are
// equal (and whose throttle rule is the same) share that worker (one pool), as gmail.com and
// googlemail.com would. Workers whose destinations one throttle rule names
// (`mx = ["*.google.com"]`) share one ThrottleGroup, so a provider is throttled as one; under
// [default] each MX host set has its own.
// A permanent DNS failure (NXDOMAIN, null MX) fails the recipients; a transient one defers them.
// It may not: resolve names itself, or read or write storage.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/destination.h"
#include "engine/dispatcher.h"
#include "engine/route_worker.h"

namespace ringmta::engine {

class DirectRouter final : public Dispatcher {
 public:
  // shard_count: limits that several shards' traffic shares are divided by it.
  DirectRouter(EventLoop& loop, const RouteConfig& config, DestinationResolver& resolver,
               LimitSharing sharing, OutcomeSink& sink, MessageCache& messages,
               MessageComposer& composer, metrics::ShardCounters& counters);
  ~DirectRouter() override;

  void add(storage::QueueEntry entry) override;
  void kick() override;
  void release_idle() override;
  void shutdown() override;
  void collect_garbage() override;
  std::size_t backlog() const override;
  bool busy() const override;
  bool paused() const override { return false; }
  const std::string& diagnosis() const override { return diagnosis_; }
  void report_routes(metrics::OutcomeTally& tally) override {
    for (auto& [key, group] : throttles_) group->report(tally);
  }

  std::size_t routes() const { return routes_.size(); }
  // A reload's rules (they must outlive the router, or the next reload): new groups resolve by
  // them, and each group's limits are resolved again for the domain and MX hosts that made it.
  void reload_throttles(const scheduler::ThrottleRules& rules);

 private:
  struct DomainState {
    bool resolving = false;
    RouteWorker* route = nullptr;  // set once resolved
    Millis resolved_at = 0;
    std::vector<storage::QueueEntry> waiting;
  };
  void on_resolved(const std::string& domain, const DestinationResult& result);
  RouteWorker* route_for(const std::string& domain, const std::vector<MxCandidate>& candidates);
  ThrottleGroup& throttle_for(const std::string& domain, const std::vector<MxCandidate>& candidates,
                              const std::string& mx_set_key, std::string& group_key);

  static constexpr Millis kReresolveAfter = 300'000;  // the resolver's cache keeps this cheap

  EventLoop& loop_;
  const RouteConfig& config_;
  const scheduler::ThrottleRules* rules_ = &config_.throttle;  // a reload's, once there was one
  DestinationResolver& resolver_;
  LimitSharing sharing_;
  OutcomeSink& sink_;
  MessageCache& messages_;
  MessageComposer& composer_;
  metrics::ShardCounters& counters_;
  std::unordered_map<std::string, DomainState> domains_;
  // Declared before routes_: the workers hold references into it.
  std::map<std::string, std::unique_ptr<ThrottleGroup>> throttles_;  // by rule or MX set key
  std::map<std::string, std::unique_ptr<RouteWorker>> routes_;       // by MX set and throttle key
  std::size_t resolving_ = 0;
  bool shutting_down_ = false;
  std::string diagnosis_;
};

}  // namespace ringmta::engine
