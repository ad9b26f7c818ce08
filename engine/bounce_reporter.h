// BounceReporter: one shard's route from permanent failures to DSNs (RFC 3464) for the envelope
// Sender. A failure's report is written in the same batch that removes the recipient
// (storage::PendingBounce), so a crash cannot lose it; reports are then gathered per message into
// DSNs (one per failure, or digests of up to max_per_dsn recipients at most digest_every apart, or
// at once when the shard has nothing left to do now) that are queued like any other mail: one
// recipient, MAIL FROM:<>, delivered by the same engine and route. Reports left by an earlier run
// are sent too. A crash between queueing a DSN and forgetting its reports sends that DSN twice
// (at-least-once, like every delivery).
//
// Never bounced: a DSN (null sender), a sender that is a mail system (bounce::should_bounce).
// It may not: deliver, decide retries, or touch partitions other than its shard's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bounce/classify.h"
#include "engine/message_cache.h"
#include "engine/message_composer.h"
#include "engine/route_worker.h"
#include "storage/queue.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::engine {

enum class BounceMode { kNone, kPerRecipient, kDigest };

struct BounceOptions {
  BounceMode mode = BounceMode::kDigest;
  std::string to;                 // --bounce-to: every DSN goes here instead of the sender
  std::size_t max_per_dsn = 100;  // digest: recipients listed in one DSN
  Millis digest_every = 60'000;   // digest: a failure waits at most this long for its DSN
  std::string reporting_mta;      // Reporting-MTA and MAILER-DAEMON@ domain (the EHLO name)
  // Categories for the delivery log, failure records and the suppression list; null: the
  // built-in rules. Shared read-only by every shard.
  const bounce::Classifier* classifier = nullptr;
  bool suppress = true;  // hard bounces join the suppression list (bounce::should_suppress)
};

class BounceReporter {
 public:
  // sender_override: the MAIL FROM actually used when set (`run --sender`), so it gets the DSN.
  // tokens: the shard's unsubscribe tokens (nullptr: none), so the quoted header block of a
  // campaign with list fields is the one its copy carried.
  BounceReporter(storage::Queue& queue, const BounceOptions& options, std::string sender_override,
                 std::string message_id_domain, std::vector<uint8_t> partitions, int shard_id,
                 unsubscribe::UnsubscribeTokens* tokens = nullptr);

  // A permanent failure of entry (a recipient of `message`): its report, with the header block
  // that recipient's copy carried (merge fields filled in, the attempt's Message-ID), joins
  // `batch` next to the recipient's removal. Nothing for a DSN or an unbounceable sender.
  void on_failed(const storage::QueueEntry& entry, const LoadedMessage& message,
                 const protocol::Reply& reply, const Attempt& where, UnixSeconds now,
                 storage::OutcomeBatch& batch);

  // Call after the batch holding the reports was applied. Queues the DSNs that are due (all of
  // them when idle); returns how many were queued.
  Result<uint32_t> emit_due(Millis now, bool idle, UnixSeconds unix_now);

  // Reports are waiting (or may be, from an earlier run, until the first pass looked).
  bool pending() const { return pending_ > 0 || look_for_old_; }

 private:
  // full_only: only digests of max_per_dsn recipients; the rest stays pending (its interval has
  // not run out and the shard is busy), so a burst of failures fills its digests.
  Result<uint32_t> emit_all(UnixSeconds unix_now, bool full_only);
  Result<void> emit_for_message(storage::MessageId id,
                                const std::vector<storage::PendingBounce>& reports,
                                UnixSeconds unix_now, bool full_only, uint32_t& emitted,
                                std::size_t& left);

  storage::Queue& queue_;
  const BounceOptions& options_;
  std::string sender_override_;
  MessageComposer composer_;  // the failed copy, as its attempt composed it
  std::vector<uint8_t> partitions_;
  int shard_id_;
  uint64_t next_unique_ = 1;
  std::size_t pending_ = 0;  // reports written since the last emit
  Millis oldest_ = 0;        // when the oldest of them was written
  bool look_for_old_ = true;
};

}  // namespace ringmta::engine
