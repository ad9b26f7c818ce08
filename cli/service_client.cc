// running_service and ask_service (see service_client.h).
#include "cli/service_client.h"

#include "http/client.h"
#include "service/service_file.h"

namespace ringmta::cli {

Result<std::optional<RunningService>> running_service(const std::string& queue_dir) {
  auto file = service::read_service_file(queue_dir);
  if (!file) return std::optional<RunningService>();
  auto token = service::read_token_file(file->token_file, "the API token file");
  if (!token) {
    return make_error("the queue is held by `ringmta serve` (pid " + std::to_string(file->pid) +
                      ", API " + file->api +
                      "), but its token file cannot be read: " + token.error().message);
  }
  return std::optional<RunningService>(
      RunningService{file->api, std::move(*token), file->tls_cert});
}

namespace {

// An answer of 400 or more as an Error, with the API's own words when it gave some.
Error refusal(const http::CallAnswer& answer) {
  nlohmann::json j = nlohmann::json::parse(answer.body, nullptr, false);
  const std::string why = !j.is_discarded() && j.contains("error") && j["error"].is_string()
                              ? j["error"].get<std::string>()
                              : answer.body;
  const std::string field = !j.is_discarded() && j.contains("field") && j["field"].is_string()
                                ? " (field " + j["field"].get<std::string>() + ")"
                                : std::string();
  return Error{"the running service answered " + std::to_string(answer.status) + ": " + why +
               field};
}

// The JSON of an answer below 400, else the refusal as an Error.
Result<nlohmann::json> json_answer(Result<http::CallAnswer> answer) {
  if (!answer) return make_error("the running service: " + answer.error().message);
  if (answer->status >= 400) return refusal(*answer);
  nlohmann::json j = nlohmann::json::parse(answer->body, nullptr, false);
  if (j.is_discarded()) return make_error("the running service answered with no JSON");
  return j;
}

}  // namespace

Result<std::string> fetch_from_service(const RunningService& service, std::string_view path) {
  auto answer =
      http::http_call(service.api, "GET", path, service.token, {}, 30'000, service.tls_cert);
  if (!answer) return make_error("the running service: " + answer.error().message);
  if (answer->status >= 400) return refusal(*answer);
  return std::move(answer->body);
}

Result<nlohmann::json> ask_service(const RunningService& service, std::string_view method,
                                   std::string_view path, const nlohmann::json& body) {
  return json_answer(http::http_call(service.api, method, path, service.token,
                                     body.is_null() ? std::string() : body.dump(), 30'000,
                                     service.tls_cert));
}

Result<nlohmann::json> upload_to_service(const RunningService& service, std::string_view path,
                                         const http::UploadBody& body) {
  // Inactivity, not a total: the service answers once the whole list is durably queued.
  constexpr Millis kQuiet = 15 * 60'000;
  return json_answer(
      http::http_upload(service.api, "POST", path, service.token, body, kQuiet, service.tls_cert));
}

}  // namespace ringmta::cli
