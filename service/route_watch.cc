// RouteWatch (see route_watch.h): each route against its last seen state.
#include "service/route_watch.h"

namespace ringmta::service {

void RouteWatch::observe(const metrics::Snapshot& s) {
  for (const metrics::RouteSnapshot& r : s.routes) {
    Seen& seen = routes_[r.name];
    if (r.paused != seen.paused) {
      log_.emit(r.paused ? "route_paused" : "route_running",
                {{"route", r.name}, {"diagnosis", r.diagnosis}});
    } else if (!r.paused && r.diagnosis != seen.diagnosis && !r.diagnosis.empty()) {
      log_.emit("route_backing_off", {{"route", r.name}, {"diagnosis", r.diagnosis}});
    }
    UnixSeconds logged = seen.refusal_logged;
    if (r.last.at != 0 && r.last.at != seen.refusal_at &&
        (r.last.text != seen.refusal || r.last.at >= seen.refusal_logged + kProgressEvery)) {
      log_.emit("route_refusal", {{"route", r.name},
                                  {"reply", r.last.text},
                                  {"connections_allowed", r.connections_allowed}});
      logged = r.last.at;
    }
    seen = Seen{r.paused, r.diagnosis, r.last.at, r.last.text, logged};
  }
  if (s.at >= next_progress_) {
    if (next_progress_ != 0) {
      log_.emit("progress", {{"delivered", s.totals.delivered},
                             {"deferred", s.totals.deferred},
                             {"failed", s.totals.failed},
                             {"ready", s.queue_ready},
                             {"queued", s.queue_ready + s.queue_deferred},
                             {"per_second_1m", s.delivered_rate.m1}});
    }
    next_progress_ = s.at + kProgressEvery;
  }
}

}  // namespace ringmta::service
