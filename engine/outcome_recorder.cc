// OutcomeRecorder: outcomes into the batch, the counters and the delivery log (see the header).
#include "engine/outcome_recorder.h"

#include "engine/delivery_log.h"
#include "storage/records.h"

static_assert(ringmta::bounce::kCategoryCount <= static_cast<int>(ringmta::metrics::kMaxCategories),
              "metrics::ShardCounters counts every reply category");

namespace ringmta::engine {

void record_failure(storage::OutcomeBatch& batch, const FailureFacts& facts, bool suppress) {
  storage::add_failure_record(batch, {.campaign = std::string(facts.campaign),
                                      .recipient = std::string(facts.recipient),
                                      .category = std::string(facts.category),
                                      .hard = facts.hard,
                                      .reply = std::string(facts.reply),
                                      .time = facts.time});
  if (!suppress) return;
  storage::SuppressionList::add_to(batch, {.address = std::string(facts.recipient),
                                           .category = std::string(facts.category),
                                           .reason = std::string(facts.reply),
                                           .campaign = std::string(facts.campaign),
                                           .since = facts.time});
}

OutcomeRecorder::OutcomeRecorder(const RecorderSettings& settings, metrics::ShardCounters& counters,
                                 BounceReporter* bounces)
    : settings_(settings), counters_(counters), bounces_(bounces), jitter_(settings.jitter_seed) {}

storage::OutcomeBatch OutcomeRecorder::take_batch() {
  storage::OutcomeBatch out = std::move(batch_);
  batch_ = storage::OutcomeBatch();
  return out;
}

Recorded OutcomeRecorder::delivered(const storage::QueueEntry& entry, const LoadedMessage* message,
                                    const protocol::Reply& reply, const Attempt& where) {
  log("delivered", entry, message, reply, where, nullptr);
  batch_.remove(entry.key);
  counters_.delivered.add();
  counters_.delivery_latency.observe_micros(metrics::micros_since(entry.record.first_enqueued));
  counters_.outcomes.delivered(entry.key.domain, entry.domain, entry.record.message);
  return {.disposition = Disposition::kDelivered};
}

Recorded OutcomeRecorder::deferred(const storage::QueueEntry& entry, const LoadedMessage* message,
                                   const protocol::Reply& reply, const Attempt& where,
                                   UnixSeconds now, bool session_lost) {
  if (scheduler::expired(settings_.retry, entry.record.first_enqueued, now)) {
    const protocol::Reply expiry = protocol::Reply::make_local(
        550, "5.4.7", "expired in the queue; last reply: " + reply.summary());
    return fail(Disposition::kExpired, entry, message, expiry, where, now);
  }
  Recorded out{.disposition = Disposition::kDeferred,
               .reply = reply.summary(),
               .verdict = settings_.classifier.classify(reply)};
  log("deferred", entry, message, reply, where, &out.verdict);
  storage::RecipientRecord record = entry.record;
  record.attempts += 1;
  record.last_reply = out.reply;
  out.retry_at = session_lost ? scheduler::next_session_retry(settings_.retry, record.attempts, now,
                                                              jitter_.next_unit())
                              : scheduler::next_retry(settings_.retry, record.attempts, now,
                                                      jitter_.next_unit());
  batch_.reschedule(entry.key, static_cast<uint32_t>(out.retry_at), record);
  counters_.deferred.add();
  counters_.deferred_by[static_cast<std::size_t>(out.verdict.category)].add();
  counters_.outcomes.deferred(entry.key.domain, entry.domain, entry.record.message, out.retry_at,
                              record.last_reply, now);
  return out;
}

Recorded OutcomeRecorder::failed(const storage::QueueEntry& entry, const LoadedMessage* message,
                                 const protocol::Reply& reply, const Attempt& where,
                                 UnixSeconds now) {
  return fail(Disposition::kFailed, entry, message, reply, where, now);
}

Recorded OutcomeRecorder::fail(Disposition disposition, const storage::QueueEntry& entry,
                               const LoadedMessage* message, const protocol::Reply& reply,
                               const Attempt& where, UnixSeconds now) {
  Recorded out{.disposition = disposition,
               .reply = reply.summary(),
               .verdict = settings_.classifier.classify(reply)};
  log("failed", entry, message, reply, where, &out.verdict);
  batch_.remove(entry.key);
  // DSNs get neither a report nor a failure record: their recipient is our own sender.
  if (message != nullptr) {
    if (bounces_ != nullptr) bounces_->on_failed(entry, *message, reply, where, now, batch_);
    if (!message->stored.is_dsn) {
      out.suppressed = settings_.suppress && bounce::should_suppress(out.verdict);
      record_failure(batch_,
                     {.campaign = message->stored.campaign,
                      .recipient = entry.record.address,
                      .category = bounce::category_name(out.verdict.category),
                      .hard = out.verdict.hard,
                      .reply = out.reply,
                      .time = now},
                     out.suppressed);
      if (out.suppressed) counters_.suppressions_added.add();
    }
  }
  counters_.count_failure(disposition == Disposition::kExpired ? metrics::FailureCategory::kExpired
                          : reply.local                        ? metrics::FailureCategory::kLocal
                                        : metrics::FailureCategory::kPermanent,
                          static_cast<std::size_t>(out.verdict.category));
  counters_.outcomes.failed(entry.key.domain, entry.domain, entry.record.message, out.reply, now);
  return out;
}

void OutcomeRecorder::withdrawn(const storage::QueueEntry& entry, const LoadedMessage* message,
                                Withdrawal why) {
  const bool suppressed = why == Withdrawal::kSuppressed;
  if (settings_.log_lines) {
    const protocol::Reply reply =
        suppressed
            ? protocol::Reply::make_local(
                  550, "5.7.1",
                  "not sent: the address joined the suppression list after it was queued")
            : protocol::Reply::make_local(550, "5.0.0", "not sent: the campaign was cancelled");
    log(suppressed ? "suppressed" : "cancelled", entry, message, reply, Attempt{}, nullptr);
  }
  batch_.remove(entry.key);
  (suppressed ? counters_.withdrawn_suppressed : counters_.withdrawn_cancelled).add();
}

void OutcomeRecorder::log(std::string_view outcome, const storage::QueueEntry& entry,
                          const LoadedMessage* message, const protocol::Reply& reply,
                          const Attempt& where, const bounce::Classification* verdict) {
  if (!settings_.log_lines) return;
  format_delivery_line(log_,
                       {.unix_millis = unix_now_millis(),
                        .outcome = outcome,
                        .campaign = message != nullptr ? std::string_view(message->stored.campaign)
                                                       : std::string_view(),
                        .entry = &entry,
                        .reply = &reply,
                        .where = &where,
                        .verdict = verdict});
}

}  // namespace ringmta::engine
