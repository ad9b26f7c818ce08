// OutcomeRecorder: the one place that decides what a recipient's outcome writes. Fed the
// recipient, its message, the reply and the clock, it puts the queue changes into one
// OutcomeBatch — removal or reschedule, the failure record, the suppression entry of a hard
// bounce, the DSN report — counts them, and formats the delivery-log line. Deferral past the
// retry policy's max age is its own disposition (kExpired), decided here and nowhere else.
// record_failure() is the failure-record-plus-suppression step on its own, which `bounces ingest`
// uses for the reports that come back later.
//
// Each shard owns one recorder (single thread, no locks). It may not: read or write storage
// itself (the shard applies the batch), deliver, or decide by any clock but the `now` it is
// passed (the delivery log's timestamps are wall time).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "bounce/classify.h"
#include "engine/bounce_reporter.h"
#include "engine/message_cache.h"
#include "engine/route_worker.h"
#include "metrics/counters.h"
#include "protocol/smtp_reply.h"
#include "scheduler/retry_policy.h"
#include "storage/queue.h"

namespace ringmta::engine {

enum class Disposition {
  kDelivered,
  kDeferred,  // rescheduled for the retry policy's next try
  kFailed,    // a permanent failure: the server's 5xx or ringmta's own refusal
  kExpired,   // deferred once more past the policy's max age: failed for good, as 5.4.7
};

// What one outcome came to, for the caller's summary and for tests.
struct Recorded {
  Disposition disposition = Disposition::kDelivered;
  UnixSeconds retry_at = 0;  // kDeferred: the new due time
  std::string reply;         // deferred and failed: the summary kept (kExpired: the expiry text)
  bounce::Classification verdict;  // kDeferred, kFailed, kExpired
  bool suppressed = false;         // the address joined the suppression list
};

// One failure of one recipient, as recorded for its campaign.
struct FailureFacts {
  std::string_view campaign;
  std::string_view recipient;
  std::string_view category;  // bounce::category_name, or "complaint"
  bool hard = true;
  std::string_view reply;
  UnixSeconds time = 0;
};

// The failure record and, with suppress, the address's suppression entry: both into batch.
// Callers decide suppress with bounce::should_suppress (a complaint always suppresses).
void record_failure(storage::OutcomeBatch& batch, const FailureFacts& facts, bool suppress);

struct RecorderSettings {
  const scheduler::RetryPolicy& retry;
  const bounce::Classifier& classifier;
  bool suppress = true;      // hard bounces join the suppression list
  bool log_lines = false;    // format a delivery-log line per outcome
  uint64_t jitter_seed = 1;  // spreads the retries of different shards
};

// Why a queued recipient was taken back unsent.
enum class Withdrawal { kSuppressed, kCancelled };

class OutcomeRecorder {
 public:
  // bounces: where permanent failures' DSN reports go; null: none (tests, DSN-less callers).
  OutcomeRecorder(const RecorderSettings& settings, metrics::ShardCounters& counters,
                  BounceReporter* bounces);

  // message: the recipient's message, or null when it could not be read (then no DSN and no
  // failure record: nothing names its campaign).
  Recorded delivered(const storage::QueueEntry& entry, const LoadedMessage* message,
                     const protocol::Reply& reply, const Attempt& where);
  // session_lost: the recipient's session ended under it (scheduler::next_session_retry), not a
  // reply about it (the retry schedule).
  Recorded deferred(const storage::QueueEntry& entry, const LoadedMessage* message,
                    const protocol::Reply& reply, const Attempt& where, UnixSeconds now,
                    bool session_lost = false);
  Recorded failed(const storage::QueueEntry& entry, const LoadedMessage* message,
                  const protocol::Reply& reply, const Attempt& where, UnixSeconds now);

  // A queued recipient taken back before it was sent — its address joined the suppression list
  // after it was queued, or its campaign was cancelled: removed from the queue, counted, logged as
  // "suppressed" or "cancelled".
  void withdrawn(const storage::QueueEntry& entry, const LoadedMessage* message, Withdrawal why);

  bool has_batch() const { return !batch_.empty(); }
  storage::OutcomeBatch take_batch();
  // The delivery-log lines formatted since the last call; empty when log_lines is off.
  std::string& log_lines() { return log_; }

 private:
  Recorded fail(Disposition disposition, const storage::QueueEntry& entry,
                const LoadedMessage* message, const protocol::Reply& reply, const Attempt& where,
                UnixSeconds now);
  void log(std::string_view outcome, const storage::QueueEntry& entry, const LoadedMessage* message,
           const protocol::Reply& reply, const Attempt& where,
           const bounce::Classification* verdict);

  RecorderSettings settings_;
  metrics::ShardCounters& counters_;
  BounceReporter* bounces_;
  scheduler::RetryJitter jitter_;
  storage::OutcomeBatch batch_;
  std::string log_;
};

}  // namespace ringmta::engine
