// Per-shard delivery counters, histograms and outcome tallies. Each shard is the only writer of
// its own ShardCounters (relaxed stores, no read-modify-write contention); readers (progress line,
// the supervisor's metrics snapshot) sum all shards.
// It may not: format output, or be written by any thread but its shard's.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "metrics/duration_tracker.h"
#include "metrics/histogram.h"
#include "metrics/outcome_tally.h"

namespace ringmta::metrics {

struct Counter {
  std::atomic<uint64_t> value{0};
  void add(uint64_t n = 1) {
    value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  // For totals kept by another single-threaded part (the shard's DNS resolver), copied each tick.
  void set(uint64_t v) { value.store(v, std::memory_order_relaxed); }
  uint64_t get() const { return value.load(std::memory_order_relaxed); }
};

// Why a recipient failed for good; the classifier's category says more (failed_by).
enum class FailureCategory { kPermanent, kExpired, kLocal };
inline constexpr std::size_t kFailureReasons = 3;

// Label sets whose names the engine gives (AggregatorConfig): the classifier's reply categories
// and the SMTP stages a reply answers. Fixed arrays, so that counting is an index, not a lookup.
inline constexpr std::size_t kMaxCategories = 32;
inline constexpr std::size_t kMaxReplyStages = 16;
inline constexpr std::size_t kReplyClasses = 4;  // 2xx 3xx 4xx 5xx

struct ShardCounters {
  Counter delivered;
  Counter deferred;
  Counter failed;
  Counter failed_permanent;  // the server's 5xx
  Counter failed_expired;    // deferred past --max-age
  Counter failed_local;      // refused by ringmta itself (message unreadable, bad merge fields)
  Counter transactions;
  Counter connections_opened;
  Counter connections_failed;
  Counter connections_closed;
  Counter sessions_ready;   // connections that reached a usable SMTP session
  Counter sessions_failed;  // connections that failed before that
  Counter tls_ok;
  Counter tls_failed;
  Counter bytes_sent;
  Counter possible_duplicates;
  Counter dns_mx_queries;       // MX queries put on the wire
  Counter dns_address_queries;  // A + AAAA queries put on the wire
  Counter dns_cache_hits;
  Counter dns_failures;          // lookups that ended transiently (SERVFAIL, timeout, refused)
  Counter dsns_queued;           // DSNs queued for envelope Senders
  Counter suppressions_added;    // hard-bounced addresses added to the suppression list
  Counter throttle_decreases;    // a route's connections or rate cut after a slow-down reply
  Counter throttle_increases;    // restored after successes
  Counter loop_busy_micros;      // the shard's EventLoop: time not spent waiting for completions
  Counter dkim_signed;           // copies that went out DKIM-signed
  Counter dkim_unsigned;         // copies with no key for their From: domain
  Counter dkim_signatures;       // signatures computed
  Counter dkim_reused;           // signatures reused: the copy's signed data was the last one's
  Counter withdrawn_suppressed;  // queued recipients found suppressed before they were sent
  Counter withdrawn_cancelled;   // queued recipients of a cancelled campaign, removed unsent
  // Failures by reason and reply category, deferrals by reply category, and every server reply
  // by the stage it answered and its class.
  std::array<std::array<Counter, kMaxCategories>, kFailureReasons> failed_by;
  std::array<Counter, kMaxCategories> deferred_by;
  std::array<std::array<Counter, kReplyClasses>, kMaxReplyStages> replies;

  ShardHistogram delivery_latency{kLatencyBuckets};  // first enqueued → accepted
  ShardHistogram transaction_time{kSecondsBuckets};  // envelope submitted → final reply
  ShardHistogram connect_time{kSecondsBuckets};      // connection opened → session ready
  ShardHistogram dns_lookup_time{kSecondsBuckets};
  ShardHistogram queue_fetch_time{kSecondsBuckets};  // one window of ready recipients from storage

  DurationTracker<4096> transaction_started;  // by envelope id
  DurationTracker<1024> connect_started;      // by connection id
  mutable OutcomeTally outcomes;              // readers take() its hand-off through a const view

  // A connection became a usable SMTP session (TLS active or not).
  void session_ready(uint64_t connection, bool tls) {
    sessions_ready.add();
    if (tls) tls_ok.add();
    if (auto took = connect_started.finish(connection)) connect_time.observe_micros(*took);
  }
  // A session failed; before_ready: it never became usable; tls: the handshake itself failed.
  void session_failed(bool before_ready, bool tls) {
    if (before_ready) sessions_failed.add();
    if (tls) tls_failed.add();
  }
  void transaction_done(uint64_t envelope) {
    transactions.add();
    if (auto took = transaction_started.finish(envelope)) transaction_time.observe_micros(*took);
  }
  void count_failure(FailureCategory c, std::size_t category) {
    failed.add();
    failed_by[static_cast<std::size_t>(c)][category < kMaxCategories ? category : 0].add();
    switch (c) {
      case FailureCategory::kPermanent:
        return failed_permanent.add();
      case FailureCategory::kExpired:
        return failed_expired.add();
      case FailureCategory::kLocal:
        return failed_local.add();
    }
  }
};

struct Totals {
  uint64_t delivered = 0, deferred = 0, failed = 0, failed_permanent = 0, failed_expired = 0,
           failed_local = 0, transactions = 0, connections_opened = 0, connections_failed = 0,
           connections_closed = 0, sessions_ready = 0, sessions_failed = 0, tls_ok = 0,
           tls_failed = 0, bytes_sent = 0, possible_duplicates = 0, dns_mx_queries = 0,
           dns_address_queries = 0, dns_cache_hits = 0, dns_failures = 0, dsns_queued = 0,
           suppressions_added = 0, throttle_decreases = 0, throttle_increases = 0, dkim_signed = 0,
           dkim_unsigned = 0, dkim_signatures = 0, dkim_reused = 0, withdrawn_suppressed = 0,
           withdrawn_cancelled = 0;
  std::array<std::array<uint64_t, kMaxCategories>, kFailureReasons> failed_by{};
  std::array<uint64_t, kMaxCategories> deferred_by{};
  std::array<std::array<uint64_t, kReplyClasses>, kMaxReplyStages> replies{};
};

inline Totals sum(const std::vector<const ShardCounters*>& shards) {
  Totals t;
  for (const ShardCounters* s : shards) {
    t.delivered += s->delivered.get();
    t.deferred += s->deferred.get();
    t.failed += s->failed.get();
    t.failed_permanent += s->failed_permanent.get();
    t.failed_expired += s->failed_expired.get();
    t.failed_local += s->failed_local.get();
    t.transactions += s->transactions.get();
    t.connections_opened += s->connections_opened.get();
    t.connections_failed += s->connections_failed.get();
    t.connections_closed += s->connections_closed.get();
    t.sessions_ready += s->sessions_ready.get();
    t.sessions_failed += s->sessions_failed.get();
    t.tls_ok += s->tls_ok.get();
    t.tls_failed += s->tls_failed.get();
    t.bytes_sent += s->bytes_sent.get();
    t.possible_duplicates += s->possible_duplicates.get();
    t.dns_mx_queries += s->dns_mx_queries.get();
    t.dns_address_queries += s->dns_address_queries.get();
    t.dns_cache_hits += s->dns_cache_hits.get();
    t.dns_failures += s->dns_failures.get();
    t.dsns_queued += s->dsns_queued.get();
    t.suppressions_added += s->suppressions_added.get();
    t.throttle_decreases += s->throttle_decreases.get();
    t.throttle_increases += s->throttle_increases.get();
    t.dkim_signed += s->dkim_signed.get();
    t.dkim_unsigned += s->dkim_unsigned.get();
    t.dkim_signatures += s->dkim_signatures.get();
    t.dkim_reused += s->dkim_reused.get();
    t.withdrawn_suppressed += s->withdrawn_suppressed.get();
    t.withdrawn_cancelled += s->withdrawn_cancelled.get();
    for (std::size_t r = 0; r < kFailureReasons; ++r) {
      for (std::size_t c = 0; c < kMaxCategories; ++c)
        t.failed_by[r][c] += s->failed_by[r][c].get();
    }
    for (std::size_t c = 0; c < kMaxCategories; ++c) t.deferred_by[c] += s->deferred_by[c].get();
    for (std::size_t st = 0; st < kMaxReplyStages; ++st) {
      for (std::size_t k = 0; k < kReplyClasses; ++k) t.replies[st][k] += s->replies[st][k].get();
    }
  }
  return t;
}

}  // namespace ringmta::metrics
