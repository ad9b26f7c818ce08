// Shard: one thread, one io_uring, the queue partitions it owns (p % shards == id), and its
// RouteWorker. It streams a bounded window of ready recipients from storage into the worker,
// turns outcomes into one WriteBatch per loop tick, and keeps single-writer counters.
//
// Cross-thread contact is limited to request_stop() (posted to the loop), reading the counters,
// finished(), and the diagnosis, and polling the suppression feed. It may not share mutable state
// with other shards.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "dkim/signer.h"
#include "engine/bounce_reporter.h"
#include "engine/delivery_control.h"
#include "engine/delivery_log.h"
#include "engine/destination.h"
#include "engine/dispatcher.h"
#include "engine/dns_destination.h"
#include "engine/io/event_loop.h"
#include "engine/message_cache.h"
#include "engine/message_composer.h"
#include "engine/outcome_recorder.h"
#include "engine/route_config.h"
#include "engine/route_updates.h"
#include "engine/route_worker.h"
#include "engine/suppression_feed.h"
#include "engine/throttle_group.h"
#include "metrics/counters.h"
#include "storage/queue.h"
#include "storage/records.h"

namespace ringmta::engine {

class DirectRouter;

struct Failure {
  std::string address;
  std::string reply;
};

class Shard final : private OutcomeSink {
 public:
  // delivery_log: where to record every outcome, or null.
  // clock: when recipients fall due and expire; must outlive the shard.
  // suppression_feed: addresses suppressed while the delivery runs, or null; must outlive it.
  // control: the operator's holds (paused, cancelled campaigns; paused domains), or null; must
  // outlive it. updates: a reload's DKIM keys and throttle rules, or null; must outlive it.
  // allowances: the routes' limits shared with the other shards (null: a fixed 1/shard_count
  // part each); must outlive it.
  Shard(int id, int shard_count, storage::Queue& queue, const RouteConfig& route,
        const QueueClock& clock, const BounceOptions& bounces, DeliveryLog* delivery_log = nullptr,
        const SuppressionFeed* suppression_feed = nullptr, const DeliveryControl* control = nullptr,
        const RouteUpdates* updates = nullptr, scheduler::SharedAllowances* allowances = nullptr);
  ~Shard();

  Result<void> start();
  void request_stop();  // thread-safe: close connections, keep everything undecided queued
  void join();

  const metrics::ShardCounters& counters() const { return counters_; }
  // Nothing is ready in storage, nothing in flight, no connection open (or the route is paused).
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  bool paused() const { return paused_.load(std::memory_order_acquire); }
  std::string diagnosis() const;
  std::string error() const;
  std::vector<Failure> failures() const;  // the first few permanent failures, for the summary

 private:
  void run();
  void tick();
  void refill();
  void flush();
  void publish_dns_stats();
  void publish_signer_stats();
  // For each entry, whether its address is on the suppression list now. list_grew: the list's
  // last addition (SuppressionList::last_added), read here when the caller has not yet.
  Result<std::vector<bool>> suppressed_since_queued(const std::vector<storage::QueueEntry>& entries,
                                                    std::optional<UnixSeconds>& list_grew);
  void emit_bounces(bool idle);
  // A new State from control_: what was resumed is fetched again; what was cancelled is swept.
  void take_control();
  // A new RouteUpdates state: sign with its keys, apply its throttle rules.
  void take_updates();
  // Removes up to kSweepChunk of this shard's stored entries of cancelled messages, on from
  // sweep_ (the partition index and the last key looked at).
  void sweep_cancelled();
  // A claimed entry that is held now: true when it was taken care of (paused: released; cancelled:
  // removed), false to go on with it.
  bool held_back(const storage::QueueEntry& entry);
  // An entry of a cancelled campaign: removed (unclaimed if it was), true; else false. Where it is
  // fetched, before it is sent, when it was deferred (not kept for a retry) and by the sweep.
  // An entry into the worker's hands, and out of them (answered, withdrawn, left queued): the
  // domain's recipients in progress, for /status, go up and down with them.
  void claim(const storage::QueueEntry& entry);
  void unclaim(const storage::QueueEntry& entry);
  bool remove_if_cancelled(const storage::QueueEntry& entry);
  void set_error(std::string message);

  void delivered(const storage::QueueEntry& entry, const protocol::Reply& reply,
                 const Attempt& where) override;
  void deferred(const storage::QueueEntry& entry, const protocol::Reply& reply,
                const Attempt& where) override;
  void failed(const storage::QueueEntry& entry, const protocol::Reply& reply,
              const Attempt& where) override;
  const LoadedMessage* message_of(const storage::QueueEntry& entry);
  void note_failure(const storage::QueueEntry& entry, const Recorded& recorded);
  void flush_log();
  void deferred_session_lost(const storage::QueueEntry& entry, const protocol::Reply& reply,
                             const Attempt& where) override;
  void released(const storage::QueueEntry& entry) override;
  bool withdrawn(const storage::QueueEntry& entry) override;
  const bounce::Classifier& classifier() const override { return classifier_; }

  static constexpr std::size_t kWindow = 1024;        // recipients claimed from storage at most
  static constexpr std::size_t kLowWater = 256;       // refill when the backlog falls below this
  static constexpr Millis kRecheckEvery = 500;        // look at storage again at least this often
  static constexpr Millis kRouteReportEvery = 250;    // hand the routes' states to the metrics
  static constexpr std::size_t kFailuresKept = 20;    // permanent failures kept for the summary
  static constexpr std::size_t kSweepChunk = 20'000;  // entries a tick looks at for a cancel

  int id_;
  int shard_count_;
  LimitSharing sharing_;
  storage::Queue& queue_;
  const RouteConfig& route_;
  const QueueClock& clock_;
  const BounceOptions& bounce_options_;
  const bounce::Classifier builtin_rules_;  // used when bounce_options_.classifier is null
  const bounce::Classifier& classifier_;
  std::unique_ptr<unsubscribe::UnsubscribeTokens> tokens_;  // null: the queue has no secret
  std::unique_ptr<BounceReporter> bounces_;
  DeliveryLog* delivery_log_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<MessageCache> messages_;
  std::unique_ptr<dkim::Signer> signer_;       // this shard's DKIM contexts; null without keys
  std::unique_ptr<MessageComposer> composer_;  // before worker_, which uses it
  // Declared before worker_ so that the router (which holds a reference) is destroyed first.
  std::unique_ptr<DestinationResolver> resolver_;  // direct delivery only
  DnsDestination* dns_ = nullptr;                  // resolver_ when it is the DNS one
  std::unique_ptr<ThrottleGroup> throttle_;        // smart-host mode; before worker_, which uses it
  std::unique_ptr<Dispatcher> worker_;
  metrics::ShardCounters counters_;
  std::unique_ptr<OutcomeRecorder> recorder_;  // after bounces_ and counters_, which it uses
  std::thread thread_;

  std::vector<uint8_t> partitions_;
  std::vector<std::optional<storage::QueueKey>> cursors_;  // per owned partition
  std::size_t next_partition_ = 0;
  std::unordered_set<uint64_t> claimed_;  // seqs handed to the worker and not yet decided
  storage::FetchHints hints_;             // per domain: the highest key fetched (storage/queue.h)
  storage::SuppressionList suppressions_{queue_};
  std::vector<std::string> addresses_;  // a window's, for the suppression check (reused)
  std::vector<std::size_t> checked_;    // their indexes in the window
  const SuppressionFeed* suppression_feed_;
  uint64_t feed_seen_ = 0;
  std::unordered_set<std::string> suppressed_late_;  // from the feed, lower case
  const DeliveryControl* control_;
  uint64_t control_seen_ = 0;
  const RouteUpdates* updates_;
  uint64_t updates_seen_ = 0;
  std::shared_ptr<const RouteUpdates::State> updated_;  // the keys signer_ uses, the rules in force
  dkim::SignerStats signed_before_;                     // by the signers a reload replaced
  DirectRouter* direct_ = nullptr;                      // worker_, in direct delivery
  std::shared_ptr<const DeliveryControl::State> holds_;  // null: nothing held
  struct Sweep {
    std::size_t partition = 0;  // index into partitions_
    std::optional<storage::QueueKey> after;
  };
  std::optional<Sweep> sweep_;  // a cancel's removal under way
  UnixSeconds hints_now_ = 0;   // the queue clock at the last refill
  bool exhausted_ = false;      // the last full pass over storage found nothing new
  Millis recheck_at_ = 0;
  Millis next_route_report_ = 0;
  bool stopping_ = false;

  std::atomic<bool> finished_{false};
  std::atomic<bool> paused_{false};
  mutable std::mutex report_mutex_;  // guards the rarely written strings below
  std::string diagnosis_;
  std::string error_;
  std::vector<Failure> failures_;
};

}  // namespace ringmta::engine
