// When `ringmta serve` holds a queue, the operating commands (`suppress`, `queue`) ask its API
// instead of failing on the lock: the service file (service/service_file.h) names the API and the
// token file. Wiring only: one request, its JSON answer.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "http/client.h"
#include "util/result.h"

namespace ringmta::cli {

struct RunningService {
  std::string api;  // base URL
  std::string token;
  std::string tls_cert;  // an https API's certificate file, pinned
};

// The service holding queue_dir, found after its queue could not be opened because it is in
// use; nullopt when no service file names one. An Error when there is one but its token cannot
// be read (the file is named).
Result<std::optional<RunningService>> running_service(const std::string& queue_dir);

// The body of a GET that answers with something other than JSON (a CSV); 400 or more is an Error.
Result<std::string> fetch_from_service(const RunningService& service, std::string_view path);

// The JSON answer of one API request; an answer of 400 or more is an Error with its message.
Result<nlohmann::json> ask_service(const RunningService& service, std::string_view method,
                                   std::string_view path, const nlohmann::json& body = nullptr);

// The JSON answer of a POST whose body is streamed (an upload of a recipient list).
Result<nlohmann::json> upload_to_service(const RunningService& service, std::string_view path,
                                         const http::UploadBody& body);

}  // namespace ringmta::cli
