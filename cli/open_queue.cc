// open_existing_queue (see open_queue.h).
#include "cli/open_queue.h"

namespace ringmta::cli {

Result<std::unique_ptr<storage::Queue>> open_existing_queue(const std::string& dir) {
  if (!storage::queue_exists(dir)) return make_error("--queue " + dir + ": no queue there");
  return open_queue(dir);
}

Result<std::unique_ptr<storage::Queue>> open_queue(const std::string& dir) {
  auto q = storage::Queue::open(dir);
  if (!q) {
    if (storage::queue_in_use(q.error())) {
      return make_error("--queue " + dir +
                            ": the queue is in use: a job (ringmta send or ringmta run) is "
                            "running on it; wait for it to finish or stop it first",
                        ErrorKind::kInUse);
    }
    return make_error("--queue " + dir + ": " + q.error().message);
  }
  return q;
}

}  // namespace ringmta::cli
