// status_json implementation.
#include "metrics/status_json.h"

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

}  // namespace

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
                           {"paused", r.paused},
                           {"diagnosis", r.diagnosis.empty() ? json(nullptr) : json(r.diagnosis)},
                           {"connections_open", r.connections_open},
                           {"limits",
                            {{"connections_allowed", r.connections_allowed},
                             {"max_connections", r.max_connections},
                             {"max_messages_per_connection", r.max_messages_per_connection},
                             {"rate_factor", r.rate_factor}}},
                           {"connections_ok", r.sessions_ok},
                           {"connections_failed", r.sessions_failed},
                           {"last_reply", last_json(r.last)}});
  }
  j["domains"] = json::array();
  for (const DomainRow& d : s.domains) {
    json dj = counts_json(d.counts);
    dj["domain"] = d.domain;
    dj["state"] = outcome_name(d.last_outcome);
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
