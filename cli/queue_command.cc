// `ringmta queue`: look at and operate a queue while no job runs on it (while `ringmta serve`
// holds it, the listing and a campaign's counts come from its API). The listing (counts by
// state and domain, the oldest deferred recipients with their last reply, one campaign's counts),
// `queue flush [DOMAIN]` (deferred recipients due now) and `queue drop --campaign ID`.
// Wiring and formatting only: the scans and writes are storage::Queue's. It may not deliver, and
// it may not open a queue another process holds (RocksDB allows one): that is exit 2.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "cli/commands.h"
#include "cli/open_queue.h"
#include "cli/output.h"
#include "cli/report.h"
#include "cli/service_client.h"
#include "http/url.h"
#include "storage/queue.h"
#include "storage/records.h"
#include "util/time.h"

namespace ringmta::cli {
namespace {

struct QueueOptions {
  std::string queue_dir = "./ringmta-queue";
  std::size_t top = 20;
  std::size_t oldest = 10;
  std::string campaign;
  std::string flush_domain;
  bool json = false;
};

struct Oldest {
  storage::QueueEntry entry;
  bool operator<(const Oldest& o) const {  // max-heap top = the youngest kept
    if (entry.record.first_enqueued != o.entry.record.first_enqueued) {
      return entry.record.first_enqueued < o.entry.record.first_enqueued;
    }
    return entry.key.seq < o.entry.key.seq;
  }
};

int list_queue(storage::Queue& q, const QueueOptions& o) {
  const UnixSeconds now = unix_now();
  auto domains = q.counts_by_domain(now);
  if (!domains) return usage_error(domains.error().message);
  storage::QueueCounts totals;
  for (const auto& d : *domains) {
    totals.ready += d.ready;
    totals.deferred += d.deferred;
  }
  // The oldest deferred: a bounded heap over the deferred entries only.
  std::priority_queue<Oldest> heap;
  std::optional<UnixSeconds> next_due;
  if (o.oldest > 0 || totals.deferred > 0) {
    auto r = q.scan_all(storage::ScanFilter{now, ""}, [&](const storage::QueueEntry& e) {
      if (!next_due || e.key.due < *next_due) next_due = e.key.due;
      if (o.oldest == 0) return true;
      heap.push(Oldest{e});
      if (heap.size() > o.oldest) heap.pop();
      return true;
    });
    if (!r) return usage_error(r.error().message);
  }
  std::vector<storage::QueueEntry> oldest;
  while (!heap.empty()) {
    oldest.push_back(heap.top().entry);
    heap.pop();
  }
  std::reverse(oldest.begin(), oldest.end());
  std::unordered_map<storage::MessageId, std::string> campaigns;
  auto campaign_of = [&](storage::MessageId id) -> std::string {
    auto it = campaigns.find(id);
    if (it != campaigns.end()) return it->second;
    auto m = q.get_message(id);
    std::string c = m ? m->campaign : "";
    campaigns.emplace(id, c);
    return c;
  };
  const std::size_t shown = std::min(o.top, domains->size());

  if (o.json) {
    nlohmann::json j;
    j["queue"] = o.queue_dir;
    j["now"] = now;
    j["total"] = totals.total();
    j["ready"] = totals.ready;
    j["deferred"] = totals.deferred;
    j["next_due"] = next_due ? nlohmann::json(*next_due) : nlohmann::json();
    j["domain_count"] = domains->size();
    j["domains"] = nlohmann::json::array();
    for (std::size_t i = 0; i < shown; ++i) {
      const auto& d = (*domains)[i];
      j["domains"].push_back({{"domain", d.domain},
                              {"ready", d.ready},
                              {"deferred", d.deferred},
                              {"total", d.total()}});
    }
    j["oldest_deferred"] = nlohmann::json::array();
    for (const auto& e : oldest) {
      j["oldest_deferred"].push_back({{"address", e.record.address},
                                      {"domain", e.domain},
                                      {"campaign", campaign_of(e.record.message)},
                                      {"first_enqueued", e.record.first_enqueued},
                                      {"attempts", e.record.attempts},
                                      {"due", e.key.due},
                                      {"last_reply", e.record.last_reply}});
    }
    std::printf("%s\n", dump(j).c_str());
    return 0;
  }

  std::printf("queue %s: %llu recipients: %llu ready now, %llu deferred", o.queue_dir.c_str(),
              static_cast<unsigned long long>(totals.total()),
              static_cast<unsigned long long>(totals.ready),
              static_cast<unsigned long long>(totals.deferred));
  if (next_due) std::printf(" (next due in %s)", duration(*next_due - now).c_str());
  std::printf("\n");
  if (domains->empty()) return 0;
  std::printf("\ndomains (top %zu of %zu):\n", shown, domains->size());
  std::size_t width = 6;
  for (std::size_t i = 0; i < shown; ++i) width = std::max(width, (*domains)[i].domain.size());
  std::printf("  %-*s %10s %10s %10s\n", static_cast<int>(width), "domain", "ready", "deferred",
              "total");
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& d = (*domains)[i];
    std::printf("  %-*s %10llu %10llu %10llu\n", static_cast<int>(width),
                printable(d.domain).c_str(), static_cast<unsigned long long>(d.ready),
                static_cast<unsigned long long>(d.deferred),
                static_cast<unsigned long long>(d.total()));
  }
  if (!oldest.empty()) {
    std::printf("\noldest deferred:\n");
    for (const auto& e : oldest) {
      std::printf("  %s  queued %s ago, %u attempt%s, due in %s, campaign %s\n    last reply: %s\n",
                  printable(e.record.address).c_str(),
                  duration(now - e.record.first_enqueued).c_str(), e.record.attempts,
                  e.record.attempts == 1 ? "" : "s", duration(e.key.due - now).c_str(),
                  printable(campaign_of(e.record.message)).c_str(),
                  e.record.last_reply.empty() ? "(none)" : printable(e.record.last_reply).c_str());
    }
  }
  return 0;
}

int show_campaign(storage::Queue& q, const QueueOptions& o) {
  const UnixSeconds now = unix_now();
  auto messages = q.campaign_messages(o.campaign);
  if (!messages) return usage_error(messages.error().message);
  auto counts = q.campaign_counts(o.campaign, now);
  if (!counts) return usage_error(counts.error().message);
  auto size = q.campaign_size(o.campaign);
  if (!size) return usage_error(size.error().message);
  if (o.json) {
    nlohmann::json j;
    j["campaign"] = o.campaign;
    j["known"] = !messages->empty();
    j["queued"] = counts->total();
    j["ready"] = counts->ready;
    j["deferred"] = counts->deferred;
    j["size"] = size->has_value() ? nlohmann::json(**size) : nlohmann::json();
    std::printf("%s\n", dump(j).c_str());
    return 0;
  }
  if (messages->empty()) {
    std::printf("campaign %s: not in this queue (never queued here, or dropped)\n",
                printable(o.campaign).c_str());
    return 0;
  }
  std::printf("campaign %s: %llu queued (%llu ready now, %llu deferred)",
              printable(o.campaign).c_str(), static_cast<unsigned long long>(counts->total()),
              static_cast<unsigned long long>(counts->ready),
              static_cast<unsigned long long>(counts->deferred));
  if (size->has_value()) {
    const uint64_t total = **size;
    std::printf(
        " of %llu accepted; %llu done (delivered or failed)",
        static_cast<unsigned long long>(total),
        static_cast<unsigned long long>(total > counts->total() ? total - counts->total() : 0));
  }
  std::printf("\n");
  return 0;
}

}  // namespace

// The listing, or one campaign's counts, from the API of the service that holds the queue.
int print_flushed(uint64_t moved, const QueueOptions& o) {
  if (o.json) {
    nlohmann::json j;
    j["flushed"] = moved;
    j["domain"] = o.flush_domain.empty() ? nlohmann::json() : nlohmann::json(o.flush_domain);
    std::printf("%s\n", dump(j).c_str());
  } else {
    std::printf("%llu deferred recipient%s due now%s%s\n", static_cast<unsigned long long>(moved),
                moved == 1 ? "" : "s", o.flush_domain.empty() ? "" : " for ",
                printable(o.flush_domain).c_str());
  }
  return 0;
}

int through_service(const RunningService& service, const QueueOptions& o) {
  if (!o.campaign.empty()) {
    auto c = ask_service(service, "GET", "/api/v1/campaigns/" + http::percent_encode(o.campaign));
    if (!c) return usage_error(c.error().message);
    if (o.json) {
      std::printf("%s\n", dump(*c).c_str());
      return 0;
    }
    std::printf(
        "campaign %s (%s): %llu of %llu still queued (%llu ready, %llu deferred), %llu "
        "failed\n",
        printable(o.campaign).c_str(), c->value("state", "").c_str(),
        static_cast<unsigned long long>(c->value("queued", uint64_t{0})),
        static_cast<unsigned long long>(c->value("accepted", uint64_t{0})),
        static_cast<unsigned long long>(c->value("ready", uint64_t{0})),
        static_cast<unsigned long long>(c->value("deferred", uint64_t{0})),
        static_cast<unsigned long long>(c->value("failed", uint64_t{0})));
    return 0;
  }
  auto q = ask_service(service, "GET", "/api/v1/queue");
  if (!q) return usage_error(q.error().message);
  if (o.json) {
    std::printf("%s\n", dump(*q).c_str());
    return 0;
  }
  std::printf(
      "queue %s (held by ringmta serve, %s): %llu recipients: %llu ready now, %llu "
      "deferred\n",
      o.queue_dir.c_str(), service.api.c_str(),
      static_cast<unsigned long long>(q->value("queued", uint64_t{0})),
      static_cast<unsigned long long>(q->value("ready", uint64_t{0})),
      static_cast<unsigned long long>(q->value("deferred", uint64_t{0})));
  const auto& domains = (*q)["domains"];
  if (!domains.empty()) {
    std::printf("\ndomains (top %zu):\n", std::min(o.top, domains.size()));
    for (std::size_t i = 0; i < domains.size() && i < o.top; ++i) {
      const auto& d = domains[i];
      std::printf("  %-30s %10llu ready %10llu deferred\n",
                  printable(d.value("domain", "")).c_str(),
                  static_cast<unsigned long long>(d.value("ready", uint64_t{0})),
                  static_cast<unsigned long long>(d.value("deferred", uint64_t{0})));
    }
  }
  for (const char* held : {"paused_domains", "paused_campaigns"}) {
    if (!q->contains(held) || (*q)[held].empty()) continue;
    std::printf("\n%s:", held);
    for (const auto& name : (*q)[held])
      std::printf(" %s", printable(name.get<std::string>()).c_str());
    std::printf("\n");
  }
  return 0;
}

Command add_queue_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "queue", "Show a queue (counts by state and domain, oldest deferred); flush or drop");
  auto o = std::make_shared<QueueOptions>();
  sub->add_option("--queue", o->queue_dir, "The RocksDB queue directory");
  sub->add_option("--top", o->top, "How many domains to list (default 20)");
  sub->add_option("--oldest", o->oldest, "How many of the oldest deferred to list (default 10)");
  sub->add_option("--campaign", o->campaign,
                  "Show this campaign's counts (with drop: the campaign to remove)");
  sub->add_flag("--json", o->json, "One JSON object instead of text");
  auto* flush = sub->add_subcommand("flush", "Make deferred recipients due now (retry at once)");
  flush->add_option("domain", o->flush_domain, "Only this domain's recipients");
  flush->fallthrough();
  auto* drop = sub->add_subcommand("drop", "Remove a campaign's queued recipients (--campaign)");
  drop->fallthrough();
  return {sub, [=]() -> int {
            if (drop->parsed() && o->campaign.empty()) {
              return usage_error("queue drop needs --campaign ID");
            }
            auto opened = open_existing_queue(o->queue_dir);
            if (!opened && opened.error().kind == ErrorKind::kInUse) {
              auto service = running_service(o->queue_dir);
              if (!service) return usage_error(service.error().message);
              if (*service && drop->parsed()) {
                return usage_error("--queue " + o->queue_dir +
                                   " is held by ringmta serve: ask its API (" + (*service)->api +
                                   "api/v1/...): POST campaigns/ID/cancel removes a campaign, "
                                   "domains/NAME/pause|resume holds a domain back");
              }
              if (*service && flush->parsed()) {
                nlohmann::json body = nlohmann::json::object();
                if (!o->flush_domain.empty()) body["domain"] = o->flush_domain;
                auto flushed = ask_service(**service, "POST", "/api/v1/queue/flush", body);
                if (!flushed) return usage_error(flushed.error().message);
                return print_flushed(flushed->value("flushed", uint64_t{0}), *o);
              }
              if (*service) return through_service(**service, *o);
            }
            if (!opened) return usage_error(opened.error().message);
            storage::Queue& q = *opened.value();
            if (flush->parsed()) {
              auto moved = q.flush(unix_now(), o->flush_domain);
              if (!moved) return usage_error(moved.error().message);
              return print_flushed(*moved, *o);
            }
            if (drop->parsed()) {
              auto dropped = q.drop_campaign(o->campaign);
              if (!dropped) return usage_error(dropped.error().message);
              if (auto records = storage::drop_failures(q, o->campaign); !records) {
                return usage_error(records.error().message);
              }
              if (o->json) {
                nlohmann::json j;
                j["dropped"] = *dropped;
                j["campaign"] = o->campaign;
                std::printf("%s\n", dump(j).c_str());
              } else {
                std::printf("dropped %llu recipient%s of campaign %s\n",
                            static_cast<unsigned long long>(*dropped), *dropped == 1 ? "" : "s",
                            printable(o->campaign).c_str());
              }
              return 0;
            }
            if (!o->campaign.empty()) return show_campaign(q, *o);
            return list_queue(q, *o);
          }};
}

}  // namespace ringmta::cli
