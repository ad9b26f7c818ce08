// The service file: how the commands find a `ringmta serve` that holds a queue. The service writes
// QUEUE/ringmta-service.json when its API listens ({"api": "http://127.0.0.1:8025/",
// "token_file": "/etc/ringmta/api-token", "pid": 1234}, and "tls_cert" for an https API) and
// removes it when it ends; a command that finds the queue locked reads it and asks the API instead
// (the file of a killed service is stale, but then the queue is not locked either). It may not:
// hold the token itself (only where it is).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace ringmta::service {

struct ServiceFile {
  std::string api;         // the API listener's base URL
  std::string token_file;  // where the bearer token is
  long pid = 0;
  std::string tls_cert;  // an https API: its certificate file, which the commands pin ("" = http)
};

Result<void> write_service_file(const std::string& queue_dir, const ServiceFile& file);
void remove_service_file(const std::string& queue_dir);
// nullopt: no service file (or an unreadable one).
std::optional<ServiceFile> read_service_file(const std::string& queue_dir);

// The API's bearer token as its file holds it: the first line, trimmed (the service and the
// commands that ask it read it alike). what: how an error names the file.
Result<std::string> read_token_file(const std::string& path, std::string_view what);

}  // namespace ringmta::service
