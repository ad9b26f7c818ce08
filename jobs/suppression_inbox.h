// SuppressionInbox: how `ringmta suppress add|import` reaches a running `send` or `run`, which
// holds the queue's database. The writer drops a file of entries into QUEUE/suppress-inbox/
// (written under a temporary name, then renamed: the job never reads half a file); the job takes
// each file within a fraction of a second: its entries join the suppression list (synced, as any
// add) and the delivery's SuppressionFeed, so that recipients already fetched are withdrawn
// before they are sent; then it deletes the file. The writer waits for that deletion before it
// says the addresses are suppressed. The directory exists only while a job watches it.
// It may not: parse addresses (the writer has), or remove entries (that waits for the job's end).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/suppression_feed.h"
#include "storage/queue.h"
#include "storage/records.h"
#include "util/result.h"
#include "util/time.h"

namespace ringmta::jobs {

class SuppressionInbox {
 public:
  static std::string dir_of(const std::string& queue_dir);

  // Job side: makes the directory and takes what arrives every kPollEvery on its own thread,
  // until destroyed (which takes what is left, then removes the directory).
  static Result<std::unique_ptr<SuppressionInbox>> watch(
      const std::string& queue_dir, storage::Queue& queue,
      std::shared_ptr<engine::SuppressionFeed> feed);
  ~SuppressionInbox();
  SuppressionInbox(const SuppressionInbox&) = delete;
  SuppressionInbox& operator=(const SuppressionInbox&) = delete;

  // Writer side: false when no job watches the queue's inbox; an error when the entries could
  // not be written, or the job did not take them within `timeout`.
  static Result<bool> deliver(const std::string& queue_dir,
                              const std::vector<storage::SuppressionEntry>& entries,
                              Millis timeout = 10'000);

  static constexpr Millis kPollEvery = 200;

 private:
  SuppressionInbox(std::string dir, storage::Queue& queue,
                   std::shared_ptr<engine::SuppressionFeed> feed);
  void take_all();

  std::string dir_;
  storage::Queue& queue_;
  std::shared_ptr<engine::SuppressionFeed> feed_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ringmta::jobs
