// DirectRouter: direct delivery for one shard. Each domain's recipients wait for one lookup of the
// domain's destination, then go to the RouteWorker of its MX host set; domains whose MX sets are
// equal share that worker (one pool, one set of limits), as gmail.com and googlemail.com would.
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
  DirectRouter(EventLoop& loop, const RouteConfig& config, DestinationResolver& resolver,
               int max_connections_per_route, OutcomeSink& sink, MessageCache& messages,
               metrics::ShardCounters& counters);
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

  std::size_t routes() const { return routes_.size(); }

 private:
  struct DomainState {
    bool resolving = false;
    RouteWorker* route = nullptr;  // set once resolved
    Millis resolved_at = 0;
    std::vector<storage::QueueEntry> waiting;
  };
  void on_resolved(const std::string& domain, const DestinationResult& result);
  RouteWorker* route_for(const std::vector<MxCandidate>& candidates);

  static constexpr Millis kReresolveAfter = 300'000;  // the resolver's cache keeps this cheap

  EventLoop& loop_;
  const RouteConfig& config_;
  DestinationResolver& resolver_;
  int max_connections_;
  OutcomeSink& sink_;
  MessageCache& messages_;
  metrics::ShardCounters& counters_;
  std::unordered_map<std::string, DomainState> domains_;
  std::map<std::string, std::unique_ptr<RouteWorker>> routes_;  // by MX set key
  std::size_t resolving_ = 0;
  bool shutting_down_ = false;
  std::string diagnosis_;
};

}  // namespace ringmta::engine
