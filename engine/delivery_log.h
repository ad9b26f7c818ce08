// DeliveryLog: the record a sender keeps of every attempt — JSON lines, one per outcome
// (delivered, deferred, failed) with where it was decided (host, address, TLS protocol and cipher)
// and the reply. Each shard formats lines into its own buffer and appends the buffer with one
// write(2) per loop tick to an O_APPEND descriptor shared by all shards: lines never interleave
// and the hot path takes no lock.
// It may not: decide outcomes, rotate files (size-based rotation comes with bounces), or block a
// shard beyond that one write.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/route_worker.h"
#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::engine {

class DeliveryLog {
 public:
  // Opens (creating, appending) the file; fails with the path and the reason.
  static Result<std::unique_ptr<DeliveryLog>> open(const std::string& path);
  ~DeliveryLog();
  DeliveryLog(const DeliveryLog&) = delete;
  DeliveryLog& operator=(const DeliveryLog&) = delete;

  // Thread-safe: one write(2) of whole lines (retried for a short write).
  Result<void> append(std::string_view lines);
  const std::string& path() const { return path_; }

 private:
  DeliveryLog(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

struct DeliveryLine {
  int64_t unix_millis = 0;
  std::string_view outcome;  // "delivered", "deferred", "failed"
  std::string_view campaign;
  const storage::QueueEntry* entry = nullptr;
  const protocol::Reply* reply = nullptr;  // null for delivered without a reply kept
  const Attempt* where = nullptr;
};

// Appends one JSON object and "\n" to out: time (RFC 3339, UTC, ms), outcome, campaign,
// recipient, domain, attempt (1 = first), queue_seconds, host, ip, tls (null in clear text),
// reply.
void format_delivery_line(std::string& out, const DeliveryLine& line);

}  // namespace ringmta::engine
