// The queue's unsubscribe secret: 32 random bytes made the first time a campaign asks for
// unsubscribe links and kept in the queue's records ("unsubscribe/secret"), beside the
// suppression list the links feed. Every later copy, and the endpoint that checks the links, use
// the same one, so links in mail sent months ago keep working as long as the queue is kept.
// It may not: make or check tokens (UnsubscribeTokens does).
#pragma once

#include <string>

#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::unsubscribe {

// The queue's secret; made (and synced) when there is none and create is true.
// An empty string when there is none and create is false.
Result<std::string> queue_secret(storage::Queue& queue, bool create);

}  // namespace ringmta::unsubscribe
