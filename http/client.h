// http_call: one blocking HTTP/1.1 request to a local listener and its answer, for the commands
// that talk to a running `ringmta serve` (`suppress`, `queue`, `report`, `send`) instead of
// opening its queue. Connection: close; the answer is read to the end (bounded by kMaxAnswer)
// within the timeout. An https:// base is spoken over TLS, and the server must present exactly
// the certificate of pinned_cert (the service's own certificate file, which the command can
// read): names do not matter then, so 127.0.0.1 reaches a service whose certificate names its
// public host.
// http_upload sends a body made of held bytes and files read as they are sent (a multipart
// upload of a recipient list of any size), with Content-Length; memory stays one read.
// Timeouts are of inactivity: a long upload goes on as long as bytes move.
// It may not: run on a shard or a listener thread, follow redirects, or trust any other
// certificate.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

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
                             std::string_view body = {}, Millis timeout = 30'000,
                             const std::string& pinned_cert = {});

// A piece of a request body: `bytes`, or when `file` is set, that file's content.
struct BodyPiece {
  std::string bytes;
  std::string file;
};
struct UploadBody {
  std::string content_type;  // "multipart/form-data; boundary=..."
  std::vector<BodyPiece> pieces;
};

Result<CallAnswer> http_upload(const std::string& base, std::string_view method,
                               std::string_view path, std::string_view bearer,
                               const UploadBody& body, Millis timeout = 30'000,
                               const std::string& pinned_cert = {});

// A multipart/form-data body (RFC 7578): text fields, then file fields read as they are sent.
// The boundary is random (128 bits), so no content holds it by chance.
UploadBody multipart_form(const std::vector<std::pair<std::string, std::string>>& fields,
                          const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace ringmta::http
