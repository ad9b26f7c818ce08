// RouteWatch: turns the metrics snapshots the delivery publishes into the route events of the
// service's log — a route paused (with the diagnosis), backing off or refused again (its last
// refusal changed: once a minute at most while the words stay the same), running again — and a line
// of counts every kProgressEvery. Fed one snapshot at a time on the supervisor thread; it only
// compares each route with its state in the last one. It may not: keep snapshots, or log a route's
// unchanged state again.
#pragma once

#include <string>
#include <unordered_map>

#include "metrics/snapshot.h"
#include "service/event_log.h"

namespace ringmta::service {

class RouteWatch {
 public:
  static constexpr UnixSeconds kProgressEvery = 60;
  explicit RouteWatch(EventLog& log) : log_(log) {}
  void observe(const metrics::Snapshot& snapshot);

 private:
  struct Seen {
    bool paused = false;
    std::string diagnosis;
    UnixSeconds refusal_at = 0;
    std::string refusal;
    UnixSeconds refusal_logged = 0;  // a refusal of the same words is logged once a minute
  };
  EventLog& log_;
  std::unordered_map<std::string, Seen> routes_;
  UnixSeconds next_progress_ = 0;
};

}  // namespace ringmta::service
