// Dispatcher: what a shard hands its claimed recipients to. A RouteWorker is one (the smart host:
// every domain goes one way); a DirectRouter is one too (each domain to its MX hosts, through one
// RouteWorker per MX host set). The shard does not know which it has.
#pragma once

#include <cstddef>
#include <string>

#include "metrics/outcome_tally.h"
#include "storage/queue.h"

namespace ringmta::engine {

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  virtual void add(storage::QueueEntry entry) = 0;
  virtual void kick() = 0;  // open connections, hand out work
  // Nothing more is ready in storage: each route without a backlog closes its idle connections.
  virtual void release_idle() = 0;
  // Stop: waiting entries released, transactions under way finished (for a few seconds at most),
  // connections closed; busy() turns false once all is closed.
  virtual void shutdown() = 0;
  virtual void collect_garbage() = 0;  // destroy closed connections, outside their callbacks
  virtual std::size_t backlog() const = 0;
  virtual bool busy() const = 0;  // connections open, lookups or logins running, work in flight
  virtual bool paused() const = 0;
  virtual const std::string& diagnosis() const = 0;
  // Hands the state of each route (throttle group) that changed to the metrics.
  virtual void report_routes(metrics::OutcomeTally& tally) = 0;
};

}  // namespace ringmta::engine
