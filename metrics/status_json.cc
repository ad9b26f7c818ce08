// status_json implementation.
#include "metrics/status_json.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ringmta::metrics {
namespace {

nlohmann::json counts_json(const OutcomeCounts& c) {
  return {{"delivered", c.delivered}, {"deferred", c.deferred}, {"failed", c.failed}};
}

nlohmann::json last_json(const LastReply& r) {
  if (r.at == 0) return nullptr;
  return {{"reply", r.text}, {"at", r.at}, {"outcome", outcome_name(r.outcome)}};
}

nlohmann::json rate_json(double configured) {
  return configured > 0 ? nlohmann::json(configured) : nlohmann::json(nullptr);
}

}  // namespace

std::string_view route_state(const RouteSnapshot& r, UnixSeconds now) {
  if (r.paused) return "paused";
  if (r.backing_off_until > now) return "backing off";
  if (r.connections_allowed < r.max_connections || r.rate_factor < 1) return "throttled";
  return "open";
}

std::string_view domain_state(const DomainRow& d) {
  if (!d.answered()) return d.in_progress > 0 ? "waiting" : "queued";
  const OutcomeCounts& c = d.counts;
  if (c.failed > 0 && (d.last_outcome == Outcome::kFailed || c.failed >= c.delivered)) {
    return "failing";
  }
  if (d.last_outcome == Outcome::kDeferred) return "deferred";
  return d.in_progress > 0 ? "delivering" : "delivered";
}

std::string status_json(const Snapshot& s) {
  using nlohmann::json;
  const Totals& t = s.totals;
  json j;
  j["at"] = s.at;
  j["uptime_seconds"] = s.uptime_seconds;
  j["finished"] = s.finished;
  j["totals"] = {{"enqueued", s.enqueued},    {"suppressed", s.suppressed},
                 {"delivered", t.delivered},  {"deferred", t.deferred},
                 {"failed", t.failed},        {"transactions", t.transactions},
                 {"bytes_sent", t.bytes_sent}};
  j["rates"] = {
      {"delivered_per_second",
       {{"1m", s.delivered_rate.m1}, {"5m", s.delivered_rate.m5}, {"15m", s.delivered_rate.m15}}}};
  j["delivered_per_second_recent"] = s.delivered_per_second;
  j["queue"] = {{"ready", s.queue_ready},
                {"deferred", s.queue_deferred},
                {"next_retry_at", s.next_retry_at == 0 ? json(nullptr) : json(s.next_retry_at)},
                {"rocksdb_live_bytes", s.rocksdb_live_bytes},
                {"rocksdb_pending_compaction_bytes", s.rocksdb_pending_compaction_bytes}};
  if (s.cluster.enabled) {
    const ClusterSnapshot& c = s.cluster;
    j["cluster"] = {{"node", c.node},
                    {"redis", c.redis},
                    {"redis_up", c.redis_up},
                    {"mode", c.redis_up ? "shared" : "fallback"},
                    {"live_nodes", c.live_nodes},
                    {"redis_calls", c.redis_calls},
                    {"tokens_leased", c.tokens_leased},
                    {"fallbacks", c.fallbacks},
                    {"suppressions_published", c.suppressions_published},
                    {"suppressions_received", c.suppressions_received},
                    {"last_error", c.last_error.empty() ? json(nullptr) : json(c.last_error)}};
  } else {
    j["cluster"] = nullptr;
  }
  j["shards"] = json::array();
  for (std::size_t i = 0; i < s.loop_utilisation.size(); ++i) {
    j["shards"].push_back({{"id", i}, {"loop_busy_ratio", s.loop_utilisation[i]}});
  }
  j["campaigns"] = json::array();
  for (const CampaignSnapshot& c : s.campaigns) {
    json cj = counts_json(c.counts);
    cj["id"] = c.id;
    cj["total"] = c.total == 0 ? json(nullptr) : json(c.total);
    uint64_t done = c.counts.delivered + c.counts.failed;
    cj["progress"] = c.total == 0 ? json(nullptr)
                                  : json(static_cast<double>(done) / static_cast<double>(c.total));
    j["campaigns"].push_back(std::move(cj));
  }
  j["routes"] = json::array();
  for (const RouteSnapshot& r : s.routes) {
    j["routes"].push_back({{"name", r.name},
                           {"state", route_state(r, s.at)},
                           {"paused", r.paused},
                           {"backing_off_until",
                            r.backing_off_until > s.at ? json(r.backing_off_until) : json(nullptr)},
                           {"diagnosis", r.diagnosis.empty() ? json(nullptr) : json(r.diagnosis)},
                           {"connections_open", r.connections_open},
                           {"limits",
                            {{"connections_allowed", r.connections_allowed},
                             {"max_connections", r.max_connections},
                             {"max_messages_per_connection", r.max_messages_per_connection},
                             {"messages_per_second", rate_json(r.messages_per_second)},
                             {"messages_per_minute", rate_json(r.messages_per_minute)},
                             {"messages_per_hour", rate_json(r.messages_per_hour)},
                             {"rate_factor", r.rate_factor}}},
                           {"connections_ok", r.sessions_ok},
                           {"connections_failed", r.sessions_failed},
                           {"last_reply", last_json(r.last)}});
  }
  j["domains"] = json::array();
  for (const DomainRow& d : s.domains) {
    json dj = counts_json(d.counts);
    dj["domain"] = d.domain;
    dj["in_progress"] = std::max<int64_t>(0, d.in_progress);
    dj["state"] = domain_state(d);
    dj["last_reply"] = last_json(d.last);
    j["domains"].push_back(std::move(dj));
  }
  j["throttle_events"] = json::array();
  for (const ThrottleEvent& e : s.throttle_events) {
    j["throttle_events"].push_back(
        {{"at", e.at}, {"route", e.route}, {"change", e.change}, {"reason", e.reason}});
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ringmta::metrics
