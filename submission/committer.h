// GroupCommitter: the one thread that writes submitted messages into the queue. Sessions hand it
// messages from any thread; it takes everything waiting, writes it as one synced WriteBatch
// (Queue::put_submissions: each message stored once, its recipients queued), and calls each
// message's callback with its id — so a burst of many sessions' messages costs one fsync, and
// every 250 is sent after the fsync that made its message durable.
// It may not: answer clients (the callbacks do, on their own loop), or hold a message after a
// failed write (each callback hears the error; nothing of the batch was queued).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::submission {

class GroupCommitter {
 public:
  // Called on the committer's thread.
  using Done = std::function<void(Result<storage::MessageId>)>;

  explicit GroupCommitter(storage::Queue& queue);
  ~GroupCommitter();  // stop()
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Thread-safe. After stop(), done hears an error at once.
  void submit(storage::Submission submission, Done done);
  // Writes what was submitted, then joins the thread. Idempotent.
  void stop();

 private:
  void run();
  struct Pending {
    storage::Submission submission;
    Done done;
  };
  storage::Queue& queue_;
  std::mutex mutex_;  // the hand-off only; never held across a write
  std::condition_variable wake_;
  std::vector<Pending> waiting_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ringmta::submission
