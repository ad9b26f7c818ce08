// GroupCommitter implementation: a condition variable hand-off and one put_submissions per batch.
#include "submission/committer.h"

#include "util/time.h"

namespace ringmta::submission {

GroupCommitter::GroupCommitter(storage::Queue& queue) : queue_(queue) {
  thread_ = std::thread([this] { run(); });
}

GroupCommitter::~GroupCommitter() {
  stop();
}

void GroupCommitter::submit(storage::Submission submission, Done done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      waiting_.push_back(Pending{std::move(submission), std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  done(make_error("the service is stopping", ErrorKind::kTemporary));
}

void GroupCommitter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void GroupCommitter::run() {
  std::vector<Pending> batch;
  std::vector<storage::Submission> submissions;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
      if (waiting_.empty()) return;  // stopping, and everything is written
      batch.swap(waiting_);
    }
    submissions.clear();
    submissions.reserve(batch.size());
    for (Pending& p : batch) submissions.push_back(std::move(p.submission));
    auto ids = queue_.put_submissions(submissions, unix_now());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (ids) {
        batch[i].done((*ids)[i]);
      } else {
        batch[i].done(ids.error());
      }
    }
    batch.clear();
  }
}

}  // namespace ringmta::submission
