// The service file (see service_file.h): JSON, written to a temporary name and renamed.
#include "service/service_file.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "util/errno_text.h"
#include "util/file.h"
#include "util/strings.h"

namespace ringmta::service {
namespace {

std::string path_of(const std::string& queue_dir) {
  return queue_dir + "/ringmta-service.json";
}

}  // namespace

Result<void> write_service_file(const std::string& queue_dir, const ServiceFile& file) {
  const std::string path = path_of(queue_dir);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    nlohmann::json j{{"api", file.api}, {"token_file", file.token_file}, {"pid", file.pid}};
    if (!file.tls_cert.empty()) j["tls_cert"] = file.tls_cert;
    out << j.dump() << "\n";
    if (!out) return make_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return make_error("cannot write " + path + ": " + errno_text(errno));
  }
  return {};
}

void remove_service_file(const std::string& queue_dir) {
  std::remove(path_of(queue_dir).c_str());
}

std::optional<ServiceFile> read_service_file(const std::string& queue_dir) {
  std::ifstream in(path_of(queue_dir));
  if (!in) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("api") || !j["api"].is_string()) {
    return std::nullopt;
  }
  ServiceFile f;
  f.api = j["api"].get<std::string>();
  if (j.contains("token_file") && j["token_file"].is_string()) {
    f.token_file = j["token_file"].get<std::string>();
  }
  if (j.contains("pid") && j["pid"].is_number_integer()) f.pid = j["pid"].get<long>();
  if (j.contains("tls_cert") && j["tls_cert"].is_string()) {
    f.tls_cert = j["tls_cert"].get<std::string>();
  }
  return f;
}

Result<std::string> read_token_file(const std::string& path, std::string_view what) {
  auto raw = read_file(path, what, 4096);
  if (!raw) return raw.error();
  return std::string(trim(std::string_view(*raw).substr(0, raw->find('\n'))));
}

}  // namespace ringmta::service
