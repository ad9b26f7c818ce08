// Progress line, summary and JSON for delivery jobs.
#include "cli/report.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/output.h"

namespace ringmta::cli {

int usage_error(const std::string& message) {
  std::fprintf(stderr, "ringmta: %s\n", message.c_str());
  return kUsage;
}

void print_progress(const engine::Progress& p, const metrics::ProgressReading& reading, bool tty) {
  const auto& t = p.totals;
  std::string eta = "--:--";
  if (reading.seconds_left) {
    const uint64_t left = *reading.seconds_left;
    char buf[32];
    if (left >= 3600) {
      std::snprintf(buf, sizeof buf, "%lluh%02llu", static_cast<unsigned long long>(left / 3600),
                    static_cast<unsigned long long>(left / 60 % 60));
    } else {
      std::snprintf(buf, sizeof buf, "%llu:%02llu", static_cast<unsigned long long>(left / 60),
                    static_cast<unsigned long long>(left % 60));
    }
    eta = buf;
  }
  std::fprintf(
      stderr, "%sdelivered %llu  deferred %llu  failed %llu  of %llu  |  %.0f msg/s  ETA %s%s",
      tty ? "\r" : "", static_cast<unsigned long long>(t.delivered),
      static_cast<unsigned long long>(t.deferred), static_cast<unsigned long long>(t.failed),
      static_cast<unsigned long long>(p.queued_at_start), reading.per_second, eta.c_str(),
      tty ? "   " : "\n");
  std::fflush(stderr);
}

void print_warnings(const engine::RouteConfig& route) {
  for (const std::string& w : route.warnings)
    std::fprintf(stderr, "ringmta: warning: %s\n", w.c_str());
}

void show_progress(engine::DeliveryOptions& options) {
  const bool tty = isatty(STDERR_FILENO) != 0;
  // The rate and ETA of the last half minute (metrics::ProgressMeter), not of the whole run.
  options.on_progress =
      [tty, meter = std::make_shared<metrics::ProgressMeter>()](const engine::Progress& p) {
        const uint64_t done = p.totals.delivered + p.totals.failed;
        const auto elapsed = static_cast<Millis>(p.seconds * 1000);
        print_progress(
            p, meter->update(elapsed, done, p.queued_at_start - std::min(done, p.queued_at_start)),
            tty);
      };
  options.progress_every = tty ? 1000 : 2000;
}

void print_summary(const engine::DeliverySummary& s, const jobs::CampaignFacts& facts,
                   const std::string& queue_dir) {
  const auto& t = s.totals;
  double rate = s.seconds > 0 ? static_cast<double>(t.delivered) / s.seconds : 0;
  std::fprintf(stderr, "\n");
  if (!facts.campaign.empty()) std::fprintf(stderr, "campaign      %s\n", facts.campaign.c_str());
  std::fprintf(stderr, "delivered     %llu in %.1f s (%.0f msg/s)\n",
               static_cast<unsigned long long>(t.delivered), s.seconds, rate);
  std::fprintf(stderr, "failed        %llu\n", static_cast<unsigned long long>(t.failed));
  const UnixSeconds now = unix_now();
  if (s.deferred > 0 && s.next_due > now) {
    // Nothing runs by itself: say when the first of them is due and what delivers it.
    std::fprintf(stderr,
                 "still queued  %llu (%llu deferred; the first is due at %s, in %s: `ringmta run "
                 "--queue %s` delivers them then, or run with --until-done)\n",
                 static_cast<unsigned long long>(s.queued),
                 static_cast<unsigned long long>(s.deferred), rfc3339(s.next_due).c_str(),
                 duration(s.next_due - now).c_str(), queue_dir.c_str());
  } else {
    std::fprintf(stderr, "still queued  %llu (%llu deferred to a later time)\n",
                 static_cast<unsigned long long>(s.queued),
                 static_cast<unsigned long long>(s.deferred));
  }
  if (facts.rejected_rows > 0 || facts.duplicates > 0) {
    std::fprintf(stderr, "rejected rows %llu%s%s, duplicates skipped %llu\n",
                 static_cast<unsigned long long>(facts.rejected_rows),
                 facts.rejects_path.empty() ? "" : " (see ",
                 facts.rejects_path.empty() ? "" : (facts.rejects_path + ")").c_str(),
                 static_cast<unsigned long long>(facts.duplicates));
  }
  if (facts.suppressed > 0) {
    std::fprintf(stderr, "suppressed    %llu (on the suppression list: not sent)\n",
                 static_cast<unsigned long long>(facts.suppressed));
  }
  if (t.withdrawn_suppressed > 0) {
    std::fprintf(stderr,
                 "withdrawn     %llu (joined the suppression list after they were queued)\n",
                 static_cast<unsigned long long>(t.withdrawn_suppressed));
  }
  if (t.dkim_signed + t.dkim_unsigned > 0) {
    std::fprintf(stderr, "DKIM          %llu signed",
                 static_cast<unsigned long long>(t.dkim_signed));
    if (t.dkim_unsigned > 0) {
      std::fprintf(stderr, ", %llu not (no key for their From: domain)",
                   static_cast<unsigned long long>(t.dkim_unsigned));
    }
    std::fprintf(stderr, "\n");
  }
  if (t.suppressions_added > 0) {
    std::fprintf(stderr, "newly suppressed %llu (hard bounces; `ringmta suppress list`)\n",
                 static_cast<unsigned long long>(t.suppressions_added));
  }
  if (t.possible_duplicates > 0) {
    std::fprintf(stderr, "possible duplicates %llu (connection lost after the end of data)\n",
                 static_cast<unsigned long long>(t.possible_duplicates));
  }
  for (const auto& f : s.failures) {
    std::fprintf(stderr, "  failed: %s: %s\n", f.address.c_str(), f.reply.c_str());
  }
  if (!s.diagnosis.empty()) std::fprintf(stderr, "\nDiagnosis: %s\n", s.diagnosis.c_str());
  if (!s.error.empty()) std::fprintf(stderr, "\nError: %s\n", s.error.c_str());
  if (s.interrupted) {
    std::fprintf(stderr,
                 "Interrupted: everything not delivered stays queued; resume with "
                 "`ringmta run --queue %s`.\n",
                 queue_dir.c_str());
  }
}

std::string json_summary(const engine::DeliverySummary& s, const jobs::CampaignFacts& facts) {
  nlohmann::json j;
  j["delivered"] = s.totals.delivered;
  j["failed"] = s.totals.failed;
  j["deferred"] = s.deferred;
  j["queued"] = s.queued;
  j["next_due"] = s.next_due > 0 ? nlohmann::json(rfc3339(s.next_due)) : nlohmann::json(nullptr);
  j["rejected_rows"] = facts.rejected_rows;
  j["suppressed"] = facts.suppressed;
  j["diagnosis"] = s.diagnosis.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.diagnosis);
  if (!s.error.empty()) j["error"] = s.error;
  if (!facts.campaign.empty()) j["campaign"] = facts.campaign;
  j["connections"] = {{"opened", s.totals.connections_opened},
                      {"failed", s.totals.connections_failed},
                      {"tls", s.totals.tls_ok},
                      {"tls_failed", s.totals.tls_failed}};
  j["dns"] = {{"mx_queries", s.totals.dns_mx_queries},
              {"address_queries", s.totals.dns_address_queries},
              {"cache_hits", s.totals.dns_cache_hits},
              {"failures", s.totals.dns_failures}};
  j["dsns_queued"] = s.totals.dsns_queued;
  j["suppressions_added"] = s.totals.suppressions_added;
  j["withdrawn_suppressed"] = s.totals.withdrawn_suppressed;
  j["dkim"] = {{"signed", s.totals.dkim_signed},
               {"unsigned", s.totals.dkim_unsigned},
               {"signatures_computed", s.totals.dkim_signatures},
               {"signatures_reused", s.totals.dkim_reused}};
  j["throttle"] = {{"decreases", s.totals.throttle_decreases},
                   {"increases", s.totals.throttle_increases}};
  return j.dump();
}

int exit_status(const engine::DeliverySummary& s) {
  if (s.queued > 0) return kStillQueued;
  if (s.totals.failed > 0) return kSomeFailed;
  return kAllDelivered;
}

}  // namespace ringmta::cli
