// Shard implementation: storage window, outcome batching, the loop thread.
#include "engine/shard.h"

#include <algorithm>
#include <cstdio>

#include "engine/direct_router.h"
#include "unsubscribe/secret.h"

namespace ringmta::engine {

Shard::Shard(int id, int shard_count, storage::Queue& queue, const RouteConfig& route,
             const QueueClock& clock, const BounceOptions& bounces, DeliveryLog* delivery_log,
             const SuppressionFeed* suppression_feed, const DeliveryControl* control,
             const RouteUpdates* updates, scheduler::SharedAllowances* allowances)
    : id_(id),
      shard_count_(shard_count),
      sharing_{shard_count, allowances},
      queue_(queue),
      route_(route),
      clock_(clock),
      bounce_options_(bounces),
      classifier_(bounces.classifier != nullptr ? *bounces.classifier : builtin_rules_),
      delivery_log_(delivery_log),
      suppression_feed_(suppression_feed),
      control_(control),
      updates_(updates) {
  for (int p = 0; p < storage::kPartitions; ++p) {
    if (p % shard_count_ == id_) partitions_.push_back(static_cast<uint8_t>(p));
  }
  cursors_.resize(partitions_.size());
}

Shard::~Shard() {
  join();
}

Result<void> Shard::start() {
  auto loop = EventLoop::create();
  if (!loop) return loop.error();
  loop_ = std::move(loop.value());
  loop_->count_busy_time(&counters_.loop_busy_micros);
  messages_ = std::make_unique<MessageCache>(queue_);
  if (!route_.dkim_keys.empty()) {
    auto signer = dkim::Signer::create(route_.dkim_keys);
    if (!signer) return signer.error();
    signer_ = std::move(signer.value());
  }
  // Read once here: the secret is made by `send` before anything that needs it is queued.
  auto secret = unsubscribe::queue_secret(queue_, false);
  if (!secret) return secret.error();
  if (!secret->empty()) {
    auto tokens = unsubscribe::UnsubscribeTokens::create(*secret);
    if (!tokens) return tokens.error();
    tokens_ = std::move(tokens.value());
  }
  bounces_ =
      std::make_unique<BounceReporter>(queue_, bounce_options_, route_.sender_override,
                                       route_.message_id_domain, partitions_, id_, tokens_.get());
  composer_ = std::make_unique<MessageComposer>(route_.message_id_domain, queue_.identity(),
                                                route_.sender_override, signer_.get(),
                                                route_.dkim_required, tokens_.get());
  const uint64_t jitter_seed =
      0x9e3779b97f4a7c15ULL ^
      (static_cast<uint64_t>(id_) * 0xbf58476d1ce4e5b9ULL + static_cast<uint64_t>(unix_now()));
  recorder_ =
      std::make_unique<OutcomeRecorder>(RecorderSettings{.retry = route_.retry,
                                                         .classifier = classifier_,
                                                         .suppress = bounce_options_.suppress,
                                                         .log_lines = delivery_log_ != nullptr,
                                                         .jitter_seed = jitter_seed},
                                        counters_, bounces_.get());
  auto& sink = static_cast<OutcomeSink&>(*this);
  if (route_.direct) {
    auto dns =
        DnsDestination::create(*loop_, *route_.direct, counters_, dns::local_interface_addresses());
    if (!dns) return dns.error();
    dns_ = dns->get();
    resolver_ = std::move(dns.value());
    auto router = std::make_unique<DirectRouter>(*loop_, route_, *resolver_, sharing_, sink,
                                                 *messages_, *composer_, counters_);
    direct_ = router.get();
    worker_ = std::move(router);
  } else {
    // Every shard's traffic goes to the smart host: its limits are shared.
    scheduler::ResolvedLimits resolved = route_.throttle.resolve("", {route_.target.endpoint.host});
    std::string name = "smart host " + route_.target.endpoint.str();
    if (resolved.rule != "default") name += " (rule " + resolved.rule + ")";
    throttle_ = std::make_unique<ThrottleGroup>(
        std::move(name), smart_host_label(route_), resolved.limits, sharing_,
        "smarthost " + route_.target.endpoint.str(), loop_->now());
    throttle_->resolved_hosts = {route_.target.endpoint.host};
    std::vector<Candidate> smart_host{Candidate{route_.target, "", false}};
    worker_ = std::make_unique<RouteWorker>(*loop_, route_, std::move(smart_host), *throttle_, sink,
                                            *messages_, *composer_, counters_);
  }
  loop_->on_tick_end([this] { tick(); });
  thread_ = std::thread([this] { run(); });
  return {};
}

void Shard::run() {
  loop_->run();
}

void Shard::request_stop() {
  if (!loop_) return;
  loop_->post([this] {
    stopping_ = true;
    worker_->shutdown();
  });
}

void Shard::join() {
  if (thread_.joinable()) thread_.join();
}

void Shard::tick() {
  // Outcomes first: a refill must not read back an entry whose removal is still in the batch.
  flush();
  flush_log();
  if (loop_->now() >= next_route_report_) {
    worker_->report_routes(counters_.outcomes);
    next_route_report_ = loop_->now() + kRouteReportEvery;
  }
  counters_.outcomes.publish(loop_->now());
  if (dns_ != nullptr) publish_dns_stats();
  if (updates_ != nullptr && updates_->generation() != updates_seen_) take_updates();
  if (signer_ != nullptr || updated_ != nullptr) publish_signer_stats();
  if (suppression_feed_ != nullptr && suppression_feed_->generation() != feed_seen_) {
    suppression_feed_->take_since(feed_seen_, suppressed_late_);
  }
  if (control_ != nullptr && control_->generation() != control_seen_) take_control();
  if (sweep_ && !stopping_) sweep_cancelled();
  if (!stopping_ && !worker_->paused()) refill();
  // After the refill: only then does exhausted_ say whether anything is due now (the heartbeat
  // clears it), and a digest waiting for "nothing left to do" must see that.
  if (bounces_->pending() && !stopping_) {
    emit_bounces(!worker_->busy() && worker_->backlog() == 0 && (exhausted_ || worker_->paused()));
    if (!exhausted_ && !worker_->paused()) refill();  // the DSNs just queued
  }
  if (!stopping_ && !worker_->paused()) {
    worker_->kick();
    // Storage has nothing more ready: every route without a backlog closes its idle connections,
    // even while another route still has work (a domain whose server never answers). A route's
    // connections may be shared with the other shards (scheduler::SharedAllowance): held idle
    // here, they would keep a shard with work for that route waiting.
    if (exhausted_) worker_->release_idle();
  }
  worker_->collect_garbage();
  if (worker_->paused() && !paused_.load()) {
    std::lock_guard lock(report_mutex_);
    diagnosis_ = worker_->diagnosis();
    paused_.store(true, std::memory_order_release);
  }
  bool idle = !worker_->busy() && worker_->backlog() == 0 &&
              (exhausted_ || worker_->paused() || stopping_) && (!bounces_->pending() || stopping_);
  if (idle && !worker_->diagnosis().empty()) {
    std::lock_guard lock(report_mutex_);
    diagnosis_ = worker_->diagnosis();
  }
  finished_.store(idle, std::memory_order_release);
  if (stopping_ && !worker_->busy()) {
    // On the loop thread while it still runs: c-ares closes its sockets and the cancelled polls
    // complete before the loop ends. The router calls no resolver after shutdown().
    dns_ = nullptr;
    resolver_.reset();
    loop_->stop();
  }
  // A heartbeat, not only after an empty pass: the worker may have turned down what the last
  // refill gave it (deferred at once while its route waits), and then nothing else wakes the loop.
  if (!stopping_ && recheck_at_ == 0) {
    recheck_at_ = loop_->now() + kRecheckEvery;
    loop_->add_timer(recheck_at_, [this] {
      recheck_at_ = 0;
      exhausted_ = false;
    });
  }
}

void Shard::emit_bounces(bool idle) {
  auto queued = bounces_->emit_due(loop_->now(), idle, clock_.now());
  if (!queued) return set_error("queueing a DSN failed: " + queued.error().message);
  if (*queued > 0) {
    counters_.dsns_queued.add(*queued);
    exhausted_ = false;  // a DSN to a domain of ours is ready now
  }
}

void Shard::publish_dns_stats() {
  dns::ResolverStats stats = dns_->stats();
  counters_.dns_mx_queries.set(stats.mx_queries_sent);
  counters_.dns_address_queries.set(stats.address_queries_sent);
  counters_.dns_cache_hits.set(stats.cache_hits);
  counters_.dns_failures.set(stats.failures);
}

void Shard::refill() {
  if (exhausted_ || worker_->backlog() >= kLowWater || claimed_.size() >= kWindow * 2) return;
  std::size_t added = 0;
  UnixSeconds now = clock_.now();
  // Every key below a domain's hint was due and fetched, and every key written later (enqueue,
  // reschedule, DSN) has due >= the clock's now: above the hint, as long as the clock does not go
  // back. When the wall clock steps back, the hints are dropped (a released entry drops its own).
  if (now < hints_now_) hints_.clear();
  hints_now_ = now;
  std::optional<UnixSeconds> list_grew;  // the suppression list's last addition, read once here
  for (std::size_t visited = 0; visited < partitions_.size(); ++visited) {
    std::size_t i = next_partition_;
    next_partition_ = (next_partition_ + 1) % partitions_.size();
    std::size_t want = kWindow - std::min(kWindow, worker_->backlog());
    if (want == 0) break;
    const uint64_t fetch_started = metrics::steady_micros();
    auto fetched = queue_.fetch_ready(partitions_[i], now, want, cursors_[i], &hints_);
    counters_.queue_fetch_time.observe_micros(metrics::steady_micros() - fetch_started);
    if (!fetched) {
      set_error("reading the queue failed: " + fetched.error().message);
      return;
    }
    if (fetched->size() < want) {
      cursors_[i].reset();  // reached the partition's end: next pass starts over
    } else {
      cursors_[i] = fetched->back().key;
    }
    auto suppressed = suppressed_since_queued(*fetched, list_grew);
    if (!suppressed) {
      set_error("reading the suppression list failed: " + suppressed.error().message);
      return;
    }
    for (std::size_t k = 0; k < fetched->size(); ++k) {
      storage::QueueEntry& entry = (*fetched)[k];
      auto [hint, fresh] = hints_.try_emplace(entry.key.domain, entry.key);
      if (!fresh && hint->second < entry.key) hint->second = entry.key;
      if (claimed_.contains(entry.key.seq)) continue;  // already in the worker's hands
      if (remove_if_cancelled(entry)) continue;
      if (holds_ != nullptr && holds_->paused(entry))
        continue;  // left as it is; the hint is past it
      if ((*suppressed)[k]) {
        recorder_->withdrawn(entry, message_of(entry), Withdrawal::kSuppressed);
        continue;
      }
      claim(entry);
      ++added;
      worker_->add(std::move(entry));
    }
    if (worker_->backlog() >= kWindow) break;
  }
  if (added == 0) exhausted_ = true;
}

bool Shard::withdrawn(const storage::QueueEntry& entry) {
  if (held_back(entry)) return true;
  if (suppressed_late_.empty() ||
      !suppressed_late_.contains(storage::suppression_address(entry.record.address))) {
    return false;
  }
  unclaim(entry);
  recorder_->withdrawn(entry, message_of(entry), Withdrawal::kSuppressed);
  return true;
}

bool Shard::held_back(const storage::QueueEntry& entry) {
  if (remove_if_cancelled(entry)) return true;
  if (holds_ == nullptr || !holds_->paused(entry)) return false;
  released(entry);  // stays queued as it is, until the resume fetches it again
  return true;
}

bool Shard::remove_if_cancelled(const storage::QueueEntry& entry) {
  if (holds_ == nullptr || !holds_->cancelled(entry.record.message)) return false;
  unclaim(entry);
  recorder_->withdrawn(entry, message_of(entry), Withdrawal::kCancelled);
  return true;
}

void Shard::take_control() {
  control_seen_ = control_->generation();
  std::shared_ptr<const DeliveryControl::State> next = control_->state();
  const bool resumed =
      holds_ != nullptr &&
      (std::any_of(holds_->paused_messages.begin(), holds_->paused_messages.end(),
                   [&](storage::MessageId m) { return !next->paused_messages.contains(m); }) ||
       std::any_of(holds_->paused_domains.begin(), holds_->paused_domains.end(),
                   [&](const std::string& d) { return !next->paused_domains.contains(d); }));
  const bool newly_cancelled =
      std::any_of(next->cancelled_messages.begin(), next->cancelled_messages.end(),
                  [&](storage::MessageId m) { return holds_ == nullptr || !holds_->cancelled(m); });
  holds_ = next->empty() ? nullptr : std::move(next);
  if (resumed) {
    // The fetch hints are past what was held: look at every domain from its start again.
    hints_.clear();
    for (auto& cursor : cursors_) cursor.reset();
    exhausted_ = false;
  }
  if (newly_cancelled) sweep_ = Sweep{};  // also what is deferred, not due for hours
}

void Shard::sweep_cancelled() {
  std::size_t looked = 0;
  while (sweep_ && looked < kSweepChunk && holds_ != nullptr) {
    const uint8_t partition = partitions_[sweep_->partition];
    auto entries = queue_.scan(partition, kSweepChunk - looked, sweep_->after);
    if (!entries) return set_error("reading the queue failed: " + entries.error().message);
    looked += entries->size();
    for (const storage::QueueEntry& entry : *entries) {
      if (!claimed_.contains(entry.key.seq)) remove_if_cancelled(entry);
    }
    if (entries->empty() || looked < kSweepChunk) {
      if (++sweep_->partition == partitions_.size()) {
        sweep_.reset();
        break;
      }
      sweep_->after.reset();
    } else {
      sweep_->after = entries->back().key;
    }
  }
  if (holds_ == nullptr) sweep_.reset();
}

Result<std::vector<bool>> Shard::suppressed_since_queued(
    const std::vector<storage::QueueEntry>& entries, std::optional<UnixSeconds>& list_grew) {
  // Every recipient was checked against the list when it was queued; an address that joined it
  // since (a one-click unsubscribe while the campaign runs, `suppress add` between runs, a hard
  // bounce in another campaign) is found here, one MultiGet a window, before it is handed on.
  // Only recipients queued no later than the list last grew can be on it unchecked: the rest
  // cost nothing (one Get for the time, once a refill, not once a partition).
  std::vector<bool> out(entries.size());
  if (entries.empty()) return out;
  if (!list_grew) {
    auto last_added = suppressions_.last_added();
    if (!last_added) return last_added.error();
    list_grew = *last_added;
  }
  addresses_.clear();
  checked_.clear();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].record.first_enqueued > *list_grew) continue;
    addresses_.push_back(entries[i].record.address);
    checked_.push_back(i);
  }
  if (addresses_.empty()) return out;
  auto found = suppressions_.contains(addresses_);
  if (!found) return found.error();
  for (std::size_t k = 0; k < checked_.size(); ++k) out[checked_[k]] = (*found)[k];
  return out;
}

void Shard::publish_signer_stats() {
  const dkim::SignerStats now = signer_ != nullptr ? signer_->stats() : dkim::SignerStats{};
  counters_.dkim_signed.set(signed_before_.copies_signed + now.copies_signed);
  counters_.dkim_unsigned.set(signed_before_.copies_unsigned + now.copies_unsigned);
  counters_.dkim_signatures.set(signed_before_.signatures_made + now.signatures_made);
  counters_.dkim_reused.set(signed_before_.signatures_reused + now.signatures_reused);
}

void Shard::take_updates() {
  updates_seen_ = updates_->generation();
  std::shared_ptr<const RouteUpdates::State> next = updates_->state();
  if (next == nullptr) return;
  std::unique_ptr<dkim::Signer> signer;
  if (!next->dkim_keys.empty()) {
    auto made = dkim::Signer::create(next->dkim_keys);
    if (!made) {
      // The service made a Signer of these keys before it handed them over: only OpenSSL
      // running out of memory gets here. The old keys stay.
      std::fprintf(stderr, "ringmta: shard %d: new DKIM keys not taken: %s\n", id_,
                   made.error().message.c_str());
      return;
    }
    signer = std::move(made.value());
  }
  if (signer_ != nullptr) {  // the counters go on from what the old signer counted
    const dkim::SignerStats& old = signer_->stats();
    signed_before_.copies_signed += old.copies_signed;
    signed_before_.copies_unsigned += old.copies_unsigned;
    signed_before_.signatures_made += old.signatures_made;
    signed_before_.signatures_reused += old.signatures_reused;
  }
  composer_->set_signer(signer.get());
  signer_ = std::move(signer);  // the old signer goes before the keys it used
  if (throttle_ != nullptr) {
    throttle_->reload_limits(next->throttle.resolve("", throttle_->resolved_hosts).limits, sharing_,
                             loop_->now());
  } else if (direct_ != nullptr) {
    direct_->reload_throttles(next->throttle);
  }
  updated_ = std::move(next);
}

void Shard::flush() {
  if (!recorder_->has_batch()) return;
  auto applied = queue_.apply(recorder_->take_batch());
  if (!applied) set_error("recording delivery outcomes failed: " + applied.error().message);
}

const LoadedMessage* Shard::message_of(const storage::QueueEntry& entry) {
  auto message = messages_->get(entry.record.message);
  return message ? message.value() : nullptr;
}

void Shard::flush_log() {
  std::string& lines = recorder_->log_lines();
  if (lines.empty()) return;
  auto written = delivery_log_->append(lines);
  lines.clear();
  if (!written) set_error(written.error().message);
}

void Shard::set_error(std::string message) {
  {
    std::lock_guard lock(report_mutex_);
    if (error_.empty()) error_ = std::move(message);
  }
  if (!stopping_) {
    stopping_ = true;
    worker_->shutdown();
  }
}

void Shard::delivered(const storage::QueueEntry& entry, const protocol::Reply& reply,
                      const Attempt& where) {
  unclaim(entry);
  // Only the delivery-log line needs the message (its campaign): no lookup per delivery without.
  (void)recorder_->delivered(entry, delivery_log_ != nullptr ? message_of(entry) : nullptr, reply,
                             where);
}

void Shard::deferred(const storage::QueueEntry& entry, const protocol::Reply& reply,
                     const Attempt& where) {
  if (remove_if_cancelled(entry)) return;  // not kept for a retry (a paused one is recorded)
  unclaim(entry);
  const Recorded recorded =
      recorder_->deferred(entry, message_of(entry), reply, where, clock_.now());
  if (recorded.disposition == Disposition::kExpired) note_failure(entry, recorded);
}

void Shard::deferred_session_lost(const storage::QueueEntry& entry, const protocol::Reply& reply,
                                  const Attempt& where) {
  if (remove_if_cancelled(entry)) return;
  unclaim(entry);
  const Recorded recorded =
      recorder_->deferred(entry, message_of(entry), reply, where, clock_.now(), true);
  if (recorded.disposition == Disposition::kExpired) note_failure(entry, recorded);
}

void Shard::failed(const storage::QueueEntry& entry, const protocol::Reply& reply,
                   const Attempt& where) {
  unclaim(entry);
  note_failure(entry, recorder_->failed(entry, message_of(entry), reply, where, clock_.now()));
}

void Shard::note_failure(const storage::QueueEntry& entry, const Recorded& recorded) {
  std::lock_guard lock(report_mutex_);
  if (failures_.size() < kFailuresKept) failures_.push_back({entry.record.address, recorded.reply});
}

void Shard::claim(const storage::QueueEntry& entry) {
  claimed_.insert(entry.key.seq);
  counters_.outcomes.taken(entry.key.domain, entry.domain);
}

void Shard::unclaim(const storage::QueueEntry& entry) {
  if (claimed_.erase(entry.key.seq) != 0)
    counters_.outcomes.given_back(entry.key.domain, entry.domain);
}

void Shard::released(const storage::QueueEntry& entry) {
  unclaim(entry);
  hints_.erase(entry.key.domain);  // it stays where it was, maybe below the hint: look again
}

std::string Shard::diagnosis() const {
  std::lock_guard lock(report_mutex_);
  return diagnosis_;
}

std::string Shard::error() const {
  std::lock_guard lock(report_mutex_);
  return error_;
}

std::vector<Failure> Shard::failures() const {
  std::lock_guard lock(report_mutex_);
  return failures_;
}

}  // namespace ringmta::engine
