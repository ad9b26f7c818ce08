// http_call: one blocking HTTP/1.1 request to a local listener and its answer, for the commands
// that talk to a running `ringmta serve` (`suppress`, `queue`) instead of opening its queue.
// Connection: close; the answer is read to the end (bounded by kMaxAnswer) within the timeout.
// It may not: run on a shard or a listener thread, follow redirects, or speak TLS.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "util/result.h"
#include "util/time.h"

namespace ringmta::http {

struct CallAnswer {
  int status = 0;
  std::string body;
};

constexpr std::size_t kMaxAnswer = 64 << 20;

// base: "http://HOST:PORT/" as AdminServer::url() gives it; path: "/api/v1/queue".
// bearer: the token for Authorization, "" for none.
Result<CallAnswer> http_call(const std::string& base, std::string_view method,
                             std::string_view path, std::string_view bearer,
                             std::string_view body = {}, Millis timeout = 30'000);

}  // namespace ringmta::http
