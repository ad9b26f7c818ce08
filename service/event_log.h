// EventLog: the service's log, one line per event an operator needs — the service started or
// stopped, a campaign queued, paused, resumed or cancelled, a domain held back, addresses
// suppressed through the API, a route paused, backing off or refused, and every minute the counts.
// As JSON lines ({"ts": "...", "event": "...", ...}) on stderr, which journald keeps with the
// unit; on a terminal, as "serve: EVENT key=value ..." text. Thread-safe: any thread may emit (a
// line is one write). It may not: block on anything but stderr, or log per recipient (that is the
// delivery log's job).
#pragma once

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string_view>

namespace ringmta::service {

class EventLog {
 public:
  enum class Format { kJson, kText };
  explicit EventLog(Format format, std::FILE* out = stderr) : format_(format), out_(out) {}

  // fields: an object of the event's details (or null).
  void emit(std::string_view event, const nlohmann::json& fields = nullptr);

 private:
  Format format_;
  std::FILE* out_;
  std::mutex mutex_;
};

// JSON unless stderr is a terminal; `--log-format` chooses.
EventLog::Format default_log_format();

}  // namespace ringmta::service
