// The Message-ID of one delivery attempt: "<SEQ.ATTEMPT.FIRST-ENQUEUED@DOMAIN>" (seq in hex).
// Derived from the queue entry alone, so the DSN for a failed attempt quotes the exact Message-ID
// that attempt carried (bounce_reporter), and a retry gets a new one. Unique: seq is unique within
// a queue, the first-enqueued time tells queues apart.
#pragma once

#include <string>
#include <string_view>

#include "storage/queue.h"

namespace ringmta::engine {

std::string attempt_message_id(const storage::QueueEntry& entry, std::string_view domain);

}  // namespace ringmta::engine
