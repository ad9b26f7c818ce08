// DeliveryLog implementation: a hand-written JSON writer (the fields are few and known; this runs
// once per recipient, so no DOM and no allocation beyond the shard's buffer).
#include "engine/delivery_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace ringmta::engine {

Result<std::unique_ptr<DeliveryLog>> DeliveryLog::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return make_error("cannot open the delivery log " + path + ": " + strerror(errno));
  return std::unique_ptr<DeliveryLog>(new DeliveryLog(fd, path));
}

DeliveryLog::~DeliveryLog() {
  ::close(fd_);
}

Result<void> DeliveryLog::append(std::string_view lines) {
  while (!lines.empty()) {
    ssize_t n = ::write(fd_, lines.data(), lines.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error("writing the delivery log " + path_ + " failed: " + strerror(errno));
    }
    lines.remove_prefix(static_cast<std::size_t>(n));
  }
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
  out += "}\n";
}

}  // namespace ringmta::engine
