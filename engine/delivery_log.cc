// DeliveryLog implementation: a hand-written JSON writer (the fields are few and known; this runs
// once per recipient, so no DOM and no allocation beyond the shard's buffer).
#include "engine/delivery_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace ringmta::engine {

Result<std::unique_ptr<DeliveryLog>> DeliveryLog::open(const std::string& path,
                                                       LogRotation rotation) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return make_error("cannot open the delivery log " + path + ": " + strerror(errno));
  struct stat st {};
  uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return std::unique_ptr<DeliveryLog>(new DeliveryLog(fd, path, rotation, size));
}

DeliveryLog::~DeliveryLog() {
  ::close(fd_);
}

Result<void> DeliveryLog::append(std::string_view lines) {
  std::lock_guard lock(mutex_);
  while (!lines.empty()) {
    ssize_t n = ::write(fd_, lines.data(), lines.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error("writing the delivery log " + path_ + " failed: " + strerror(errno));
    }
    lines.remove_prefix(static_cast<std::size_t>(n));
    size_ += static_cast<uint64_t>(n);
  }
  if (rotation_.max_bytes > 0 && size_ >= rotation_.max_bytes) return rotate();
  return {};
}

Result<void> DeliveryLog::rotate() {
  auto numbered = [this](int n) { return path_ + "." + std::to_string(n); };
  const int keep = rotation_.keep < 1 ? 1 : rotation_.keep;
  ::unlink(numbered(keep).c_str());  // the oldest goes; ENOENT is fine
  for (int n = keep - 1; n >= 1; --n) ::rename(numbered(n).c_str(), numbered(n + 1).c_str());
  if (::rename(path_.c_str(), numbered(1).c_str()) != 0) {
    return make_error("rotating the delivery log " + path_ + " failed: " + strerror(errno));
  }
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return make_error("cannot reopen the delivery log " + path_ +
                      " after rotating it: " + strerror(errno));
  }
  ::close(fd_);
  fd_ = fd;
  size_ = 0;
  return {};
}

namespace {

void put_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;  // UTF-8 passes through; replies are ASCII by RFC 5321
        }
    }
  }
  out += '"';
}

void put_field(std::string& out, std::string_view name, std::string_view value,
               bool null_if_empty) {
  out += ",\"";
  out += name;
  out += "\":";
  if (value.empty() && null_if_empty) {
    out += "null";
  } else {
    put_string(out, value);
  }
}

void put_time(std::string& out, int64_t unix_millis) {
  time_t secs = static_cast<time_t>(unix_millis / 1000);
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[40];
  std::size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(unix_millis % 1000));
  out += "{\"time\":\"";
  out += buf;
  out += '"';
}

}  // namespace

void format_delivery_line(std::string& out, const DeliveryLine& line) {
  const storage::QueueEntry& e = *line.entry;
  put_time(out, line.unix_millis);
  put_field(out, "outcome", line.outcome, false);
  put_field(out, "campaign", line.campaign, true);
  put_field(out, "recipient", e.record.address, false);
  put_field(out, "domain", e.domain, false);
  out += ",\"attempt\":";
  out += std::to_string(e.record.attempts + 1);
  out += ",\"queue_seconds\":";
  int64_t queued = line.unix_millis / 1000 - e.record.first_enqueued;
  out += std::to_string(queued < 0 ? 0 : queued);
  const Attempt empty;
  const Attempt& where = line.where != nullptr ? *line.where : empty;
  put_field(out, "host", where.host, true);
  put_field(out, "ip", where.address, true);
  put_field(out, "tls", where.tls, true);
  put_field(out, "reply", line.reply != nullptr ? line.reply->summary() : std::string(), true);
  if (line.verdict != nullptr) {
    put_field(out, "category", bounce::category_name(line.verdict->category), false);
    out += line.verdict->hard ? ",\"hard\":true" : ",\"hard\":false";
  } else {
    out += ",\"category\":null,\"hard\":null";
  }
  out += "}\n";
}

}  // namespace ringmta::engine
