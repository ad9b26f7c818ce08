// DeliveryLog: the record a sender keeps of every attempt — JSON lines, one per outcome
// (delivered, deferred, failed) with where it was decided (host, address, TLS protocol and cipher),
// the reply and its bounce category. Each shard formats lines into its own buffer and appends the
// buffer once per loop tick; appends take a mutex (once per tick, not per recipient) so that lines
// never interleave and a size-based rotation (path -> path.1 -> ... -> path.N) happens between
// whole buffers.
// It may not: decide outcomes, or block a shard beyond that one write (and a rare rename).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "bounce/classify.h"
#include "engine/route_worker.h"
#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::engine {

struct LogRotation {
  uint64_t max_bytes = 0;  // 0: never rotate
  int keep = 5;            // rotated files kept: path.1 (newest) .. path.keep
};

class DeliveryLog {
 public:
  // Opens (creating, appending) the file; fails with the path and the reason.
  static Result<std::unique_ptr<DeliveryLog>> open(const std::string& path,
                                                   LogRotation rotation = {});
  ~DeliveryLog();
  DeliveryLog(const DeliveryLog&) = delete;
  DeliveryLog& operator=(const DeliveryLog&) = delete;

  // Thread-safe: whole lines (retried for a short write), then a rotation once the file has
  // reached max_bytes.
  Result<void> append(std::string_view lines);
  const std::string& path() const { return path_; }

 private:
  DeliveryLog(int fd, std::string path, LogRotation rotation, uint64_t size)
      : fd_(fd), path_(std::move(path)), rotation_(rotation), size_(size) {}
  Result<void> rotate();  // mutex_ held

  std::mutex mutex_;
  int fd_;
  std::string path_;
  LogRotation rotation_;
  uint64_t size_;
};

struct DeliveryLine {
  int64_t unix_millis = 0;
  std::string_view outcome;  // "delivered", "deferred", "failed", "suppressed" (withdrawn)
  std::string_view campaign;
  const storage::QueueEntry* entry = nullptr;
  const protocol::Reply* reply = nullptr;  // null for delivered without a reply kept
  const Attempt* where = nullptr;
  const bounce::Classification* verdict = nullptr;  // deferred and failed lines
};

// Appends one JSON object and "\n" to out: time (RFC 3339, UTC, ms), outcome, campaign,
// recipient, domain, attempt (1 = first), queue_seconds, host, ip, tls (null in clear text),
// reply, category and hard (null for deliveries).
void format_delivery_line(std::string& out, const DeliveryLine& line);

}  // namespace ringmta::engine
