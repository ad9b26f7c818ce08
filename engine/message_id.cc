// attempt_message_id (see message_id.h).
#include "engine/message_id.h"

#include <cstdio>

namespace ringmta::engine {

std::string attempt_message_id(const storage::QueueEntry& entry, std::string_view domain) {
  char head[80];
  std::snprintf(head, sizeof head, "<%llx.%u.%lld@", static_cast<unsigned long long>(entry.key.seq),
                entry.record.attempts, static_cast<long long>(entry.record.first_enqueued));
  std::string id(head);
  id += domain;
  id += '>';
  return id;
}

}  // namespace ringmta::engine
