// MessageComposer: one recipient's copy of a queued message as one attempt carries it — the
// merge values filled in, the attempt's own Message-ID, a Date: — and the envelope Sender it goes
// out with (the null reverse-path for a DSN, else --sender or the message's, VERP-tagged when the
// campaign asked). The route worker sends what it composes; the bounce reporter quotes the header
// block of the same composition in the DSN, so the two can never disagree.
// It may not: deliver, read storage, or read a clock (callers pass the time).
#pragma once

#include <string>
#include <string_view>

#include "engine/message_cache.h"
#include "storage/queue.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::engine {

// The Message-ID of one delivery attempt: "<SEQ.ATTEMPT.FIRST-ENQUEUED@DOMAIN>" (seq in hex).
// Derived from the queue entry alone, so a DSN quotes the Message-ID the failed attempt carried,
// and a retry gets a new one. Unique: seq is unique within a queue, the first-enqueued time tells
// queues apart.
std::string attempt_message_id(const storage::QueueEntry& entry, std::string_view domain);

class MessageComposer {
 public:
  // message_id_domain: the right-hand side of Message-IDs; sender_override: `--sender` ("" none).
  MessageComposer(std::string message_id_domain, std::string sender_override)
      : message_id_domain_(std::move(message_id_domain)),
        sender_override_(std::move(sender_override)) {}

  // Appends entry's copy of message, dated now, to out. Fails, writing nothing, when the
  // recipient's merge values cannot go into a message (MessageTemplate::check_values says why).
  Result<void> compose(std::string& out, const storage::QueueEntry& entry,
                       const LoadedMessage& message, UnixSeconds now);
  // MAIL FROM for entry's copy of message.
  std::string envelope_sender(const storage::QueueEntry& entry, const LoadedMessage& message) const;

 private:
  std::string message_id_domain_;
  std::string sender_override_;
  UnixSeconds date_at_ = -1;  // the second date_ (a Date: header value) was formatted for
  std::string date_;
};

}  // namespace ringmta::engine
