// prometheus_text implementation: one block per family.
#include "metrics/prometheus_text.h"

#include "metrics/exposition.h"

namespace ringmta::metrics {
namespace {

// Recipients by outcome and the SMTP transactions that carried them.
void add_delivery_counters(Exposition& e, const Snapshot& s) {
  const Totals& t = s.totals;
  e.family("ringmta_recipients_enqueued_total",
           "Recipients accepted into the queue by this process.", "counter");
  e.sample("ringmta_recipients_enqueued_total", {}, s.enqueued);
  e.family("ringmta_recipients_suppressed_total",
           "Recipients this process did not queue because they are on the suppression list.",
           "counter");
  e.sample("ringmta_recipients_suppressed_total", {}, s.suppressed);
  e.family("ringmta_recipients_delivered_total",
           "Recipients the smart host accepted (final reply 2xx).", "counter");
  e.sample("ringmta_recipients_delivered_total", {}, t.delivered);
  e.family("ringmta_recipients_deferred_total",
           "Deferrals: a recipient rescheduled for a later attempt after a transient answer, by "
           "the reply's category (ringmta classify).",
           "counter");
  for (std::size_t c = 0; c < s.category_names.size(); ++c) {
    e.sample("ringmta_recipients_deferred_total", {{"category", s.category_names[c]}},
             t.deferred_by[c]);
  }
  e.family("ringmta_recipients_failed_total",
           "Recipients that failed for good, by reason (permanent: the server's 5xx; expired: "
           "deferred past --max-age; local: refused by ringmta itself) and by the reply's "
           "category (ringmta classify).",
           "counter");
  static constexpr const char* kReasons[kFailureReasons] = {"permanent", "expired", "local"};
  for (std::size_t r = 0; r < kFailureReasons; ++r) {
    for (std::size_t c = 0; c < s.category_names.size(); ++c) {
      e.sample("ringmta_recipients_failed_total",
               {{"reason", kReasons[r]}, {"category", s.category_names[c]}}, t.failed_by[r][c]);
    }
  }
  e.family("ringmta_smtp_replies_total",
           "Replies of the receiving servers, by the command's stage and the reply's class.",
           "counter");
  static constexpr const char* kClasses[kReplyClasses] = {"2xx", "3xx", "4xx", "5xx"};
  for (std::size_t st = 0; st < s.reply_stage_names.size(); ++st) {
    if (s.reply_stage_names[st].empty()) continue;  // a stage without replies
    for (std::size_t k = 0; k < kReplyClasses; ++k) {
      e.sample("ringmta_smtp_replies_total",
               {{"stage", s.reply_stage_names[st]}, {"class", kClasses[k]}}, t.replies[st][k]);
    }
  }
  e.family("ringmta_recipients_withdrawn_total",
           "Queued recipients taken back unsent: their address joined the suppression list after "
           "they were queued (an unsubscribe, a complaint, a hard bounce elsewhere), or their "
           "campaign was cancelled.",
           "counter");
  e.sample("ringmta_recipients_withdrawn_total", {{"reason", "suppressed"}},
           t.withdrawn_suppressed);
  e.sample("ringmta_recipients_withdrawn_total", {{"reason", "cancelled"}}, t.withdrawn_cancelled);
  e.family("ringmta_unsubscribes_total",
           "One-click unsubscribes (RFC 8058) the admin listener recorded on the suppression list.",
           "counter");
  e.sample("ringmta_unsubscribes_total", {{"via", "one-click"}}, s.unsubscribed);
  e.family("ringmta_dkim_copies_total",
           "Copies composed for delivery, by DKIM result: signed, or unsigned (no key for the "
           "From: domain).",
           "counter");
  e.sample("ringmta_dkim_copies_total", {{"result", "signed"}}, t.dkim_signed);
  e.sample("ringmta_dkim_copies_total", {{"result", "unsigned"}}, t.dkim_unsigned);
  e.family("ringmta_dkim_signatures_total",
           "DKIM signatures: computed, or reused (the copy's signed data was the same as the "
           "last copy's, as for a message the same for every recipient).",
           "counter");
  e.sample("ringmta_dkim_signatures_total", {{"how", "computed"}}, t.dkim_signatures);
  e.sample("ringmta_dkim_signatures_total", {{"how", "reused"}}, t.dkim_reused);
  e.family("ringmta_possible_duplicates_total",
           "Messages whose end of data was sent but never answered; they are sent again.",
           "counter");
  e.sample("ringmta_possible_duplicates_total", {}, t.possible_duplicates);
  e.family("ringmta_smtp_transactions_total", "SMTP transactions (MAIL to final reply) finished.",
           "counter");
  e.sample("ringmta_smtp_transactions_total", {}, t.transactions);
  e.family("ringmta_smtp_bytes_sent_total",
           "Message bytes (rendered, before dot-stuffing) handed to SMTP connections.", "counter");
  e.sample("ringmta_smtp_bytes_sent_total", {}, t.bytes_sent);
}

// Connections, TLS handshakes, DNS queries and throttle changes.
void add_connection_counters(Exposition& e, const Snapshot& s) {
  const Totals& t = s.totals;
  e.family("ringmta_connections_opened_total",
           "Connections opened, by route and result: ok reached a usable SMTP session, failed did "
           "not.",
           "counter");
  for (const RouteSnapshot& r : s.routes) {
    e.sample("ringmta_connections_opened_total", {{"route", r.name}, {"result", "ok"}},
             r.sessions_ok);
    e.sample("ringmta_connections_opened_total", {{"route", r.name}, {"result", "failed"}},
             r.sessions_failed);
  }
  e.family("ringmta_tls_handshakes_total", "TLS handshakes (STARTTLS or implicit), by result.",
           "counter");
  e.sample("ringmta_tls_handshakes_total", {{"result", "ok"}}, t.tls_ok);
  e.sample("ringmta_tls_handshakes_total", {{"result", "failed"}}, t.tls_failed);
  e.family("ringmta_dns_queries_total",
           "DNS queries sent by direct delivery, by record type (mx; address is A and AAAA).",
           "counter");
  e.sample("ringmta_dns_queries_total", {{"type", "mx"}}, t.dns_mx_queries);
  e.sample("ringmta_dns_queries_total", {{"type", "address"}}, t.dns_address_queries);
  e.family("ringmta_dns_cache_hits_total", "DNS lookups answered from the resolver's cache.",
           "counter");
  e.sample("ringmta_dns_cache_hits_total", {}, t.dns_cache_hits);
  e.family(
      "ringmta_dns_failures_total",
      "DNS lookups that failed transiently (SERVFAIL, timeout, refused): the domain is deferred.",
      "counter");
  e.sample("ringmta_dns_failures_total", {}, t.dns_failures);
  e.family("ringmta_throttle_changes_total",
           "Adaptive throttle changes: a route's connections or rate cut after a slow-down reply "
           "(421, 4.7.x rate limits, refused connections) or restored after successes.",
           "counter");
  e.sample("ringmta_throttle_changes_total", {{"direction", "decrease"}}, t.throttle_decreases);
  e.sample("ringmta_throttle_changes_total", {{"direction", "increase"}}, t.throttle_increases);
}

// What bounces caused: DSNs queued and suppressions added.
void add_bounce_counters(Exposition& e, const Snapshot& s) {
  const Totals& t = s.totals;
  e.family("ringmta_dsns_queued_total",
           "Delivery status notifications (bounces) queued for envelope Senders.", "counter");
  e.sample("ringmta_dsns_queued_total", {}, t.dsns_queued);
  e.family("ringmta_suppressions_added_total",
           "Hard-bounced addresses added to the suppression list; later sends skip them.",
           "counter");
  e.sample("ringmta_suppressions_added_total", {}, t.suppressions_added);
}

// Recipient outcomes per destination domain (bounded by the snapshot's DomainTable).
void add_domain_counters(Exposition& e, const Snapshot& s) {
  e.family("ringmta_domain_recipients_total",
           "Recipient outcomes by destination domain; the largest domains by volume have their "
           "own series, the rest are counted under domain=\"other\".",
           "counter");
  for (const DomainRow& d : s.domains) {
    for (auto [o, n] : {std::pair{Outcome::kDelivered, d.counts.delivered},
                        std::pair{Outcome::kDeferred, d.counts.deferred},
                        std::pair{Outcome::kFailed, d.counts.failed}}) {
      e.sample("ringmta_domain_recipients_total",
               {{"domain", d.domain}, {"outcome", outcome_name(o)}}, n);
    }
  }
}

// The gauges: queue depth, connections, event loop load, RocksDB sizes, job state.
void add_gauges(Exposition& e, const Snapshot& s) {
  e.family("ringmta_queue_depth",
           "Recipients in the queue, ready (due now) or deferred (due later); kept by the "
           "supervisor from outcomes, refreshed every few seconds.",
           "gauge");
  e.sample("ringmta_queue_depth", {{"state", "ready"}}, s.queue_ready);
  e.sample("ringmta_queue_depth", {{"state", "deferred"}}, s.queue_deferred);
  e.family("ringmta_connections_open", "SMTP connections open now, per route.", "gauge");
  for (const RouteSnapshot& r : s.routes) {
    e.sample("ringmta_connections_open", {{"route", r.name}}, r.connections_open);
  }
  e.family("ringmta_connections_allowed",
           "SMTP connections the route may open now (0 while it is paused).", "gauge");
  for (const RouteSnapshot& r : s.routes) {
    e.sample("ringmta_connections_allowed", {{"route", r.name}}, r.connections_allowed);
  }
  e.family("ringmta_route_paused",
           "1 while the route is paused, waiting for the user's fix (relaying denied, "
           "authentication failed, the sender's domain refused), else 0.",
           "gauge");
  for (const RouteSnapshot& r : s.routes) {
    e.sample("ringmta_route_paused", {{"route", r.name}}, uint64_t{r.paused ? 1u : 0u});
  }
  e.family("ringmta_shard_loop_busy_ratio",
           "Share of the last interval each shard's event loop spent working rather than waiting "
           "for completions.",
           "gauge");
  for (std::size_t i = 0; i < s.loop_utilisation.size(); ++i) {
    std::string shard = std::to_string(i);
    e.sample("ringmta_shard_loop_busy_ratio", {{"shard", shard}}, s.loop_utilisation[i]);
  }
  e.family("ringmta_rocksdb_live_data_bytes", "RocksDB estimate of the queue's live data size.",
           "gauge");
  e.sample("ringmta_rocksdb_live_data_bytes", {}, s.rocksdb_live_bytes);
  e.family("ringmta_rocksdb_pending_compaction_bytes",
           "RocksDB estimate of the bytes compaction still has to rewrite.", "gauge");
  e.sample("ringmta_rocksdb_pending_compaction_bytes", {}, s.rocksdb_pending_compaction_bytes);
  e.family("ringmta_job_finished",
           "1 once the delivery job is over (the admin listener may linger), else 0.", "gauge");
  e.sample("ringmta_job_finished", {}, uint64_t{s.finished ? 1u : 0u});
}

// A cluster node's view of Redis and the cluster (nothing when not in a cluster).
void add_cluster(Exposition& e, const Snapshot& s) {
  const ClusterSnapshot& c = s.cluster;
  if (!c.enabled) return;
  e.family("ringmta_cluster_redis_up",
           "1 while the cluster's Redis answers; 0 while this node runs on its fallback share of "
           "the cluster-wide limits.",
           "gauge");
  e.sample("ringmta_cluster_redis_up", {{"node", c.node}}, uint64_t{c.redis_up ? 1u : 0u});
  e.family("ringmta_cluster_nodes", "Live nodes of the cluster, as last counted by heartbeats.",
           "gauge");
  e.sample("ringmta_cluster_nodes", {{"node", c.node}}, c.live_nodes);
  e.family("ringmta_cluster_redis_calls_total", "Round trips to the cluster's Redis.", "counter");
  e.sample("ringmta_cluster_redis_calls_total", {{"node", c.node}}, c.redis_calls);
  e.family("ringmta_cluster_tokens_leased_total",
           "Message tokens leased from the cluster-wide rates.", "counter");
  e.sample("ringmta_cluster_tokens_leased_total", {{"node", c.node}}, c.tokens_leased);
  e.family("ringmta_cluster_fallbacks_total",
           "Times the cluster's Redis was lost and this node fell back to its share.", "counter");
  e.sample("ringmta_cluster_fallbacks_total", {{"node", c.node}}, c.fallbacks);
  e.family("ringmta_cluster_suppressions_total",
           "Suppression list additions shared through the cluster: published by this node, or "
           "received from the others.",
           "counter");
  e.sample("ringmta_cluster_suppressions_total", {{"node", c.node}, {"direction", "published"}},
           c.suppressions_published);
  e.sample("ringmta_cluster_suppressions_total", {{"node", c.node}, {"direction", "received"}},
           c.suppressions_received);
}

// The latency histograms.
void add_histograms(Exposition& e, const Snapshot& s) {
  e.family("ringmta_delivery_latency_seconds",
           "Time from a recipient's first enqueue to its acceptance by the smart host.",
           "histogram");
  e.histogram("ringmta_delivery_latency_seconds", {}, s.delivery_latency);
  e.family("ringmta_smtp_transaction_seconds",
           "Time from handing an envelope to a connection to its final reply.", "histogram");
  e.histogram("ringmta_smtp_transaction_seconds", {}, s.transaction_time);
  e.family("ringmta_connect_seconds",
           "Time from opening a connection to a usable SMTP session (TCP connect, greeting, EHLO, "
           "TLS, AUTH).",
           "histogram");
  e.histogram("ringmta_connect_seconds", {}, s.connect_time);
  e.family("ringmta_dns_lookup_seconds", "Time of DNS lookups (direct delivery).", "histogram");
  e.histogram("ringmta_dns_lookup_seconds", {}, s.dns_lookup_time);
  e.family("ringmta_queue_fetch_seconds",
           "Time to read one window of ready recipients from the queue (RocksDB); it must not "
           "grow as a campaign drains and leaves tombstones behind.",
           "histogram");
  e.histogram("ringmta_queue_fetch_seconds", {}, s.queue_fetch_time);
}

}  // namespace

std::string prometheus_text(const Snapshot& s) {
  Exposition e;
  add_delivery_counters(e, s);
  add_connection_counters(e, s);
  add_bounce_counters(e, s);
  add_domain_counters(e, s);
  add_gauges(e, s);
  add_cluster(e, s);
  add_histograms(e, s);
  return e.text();
}

}  // namespace ringmta::metrics
