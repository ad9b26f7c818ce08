// EventLog (see event_log.h): the line of an event, written at once.
#include "service/event_log.h"

#include <unistd.h>

#include <ctime>
#include <string>

#include "util/time.h"

namespace ringmta::service {
namespace {

// "2026-12-04T20:07:00.123Z".
std::string timestamp(int64_t unix_millis) {
  const std::time_t seconds = static_cast<std::time_t>(unix_millis / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(unix_millis % 1000));
  return buf;
}

}  // namespace

void EventLog::emit(std::string_view event, const nlohmann::json& fields) {
  std::string line;
  const int64_t now = unix_now_millis();
  if (format_ == Format::kJson) {
    nlohmann::ordered_json j;
    j["ts"] = timestamp(now);
    j["event"] = event;
    if (fields.is_object()) {
      for (const auto& [key, value] : fields.items()) j[key] = value;
    }
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = "serve: " + std::string(event);
    if (fields.is_object()) {
      for (const auto& [key, value] : fields.items()) {
        line += " " + key + "=" +
                (value.is_string()
                     ? value.get<std::string>()
                     : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      }
    }
  }
  line.push_back('\n');
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

EventLog::Format default_log_format() {
  return ::isatty(STDERR_FILENO) ? EventLog::Format::kText : EventLog::Format::kJson;
}

}  // namespace ringmta::service
