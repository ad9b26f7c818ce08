// libFuzzer target for http::HttpRequestParser: arbitrary bytes fed in arbitrary chunks.
// It may not do I/O; it checks the bounds hold, requests are well-formed, and a rejected parser
// stays rejected with a 4xx status.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/request_parser.h"

using ringmta::http::HttpRequestParser;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t chunk = (data[0] % 64) + 1;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  HttpRequestParser parser;
  bool was_rejected = false;
  for (std::size_t i = 0; i < in.size(); i += chunk) {
    parser.feed(in.substr(i, chunk));
    while (auto req = parser.next()) {
      if (was_rejected) std::abort();
      if (req->method.empty() || req->target.empty() || req->target[0] != '/') std::abort();
      if (req->target.size() > HttpRequestParser::kMaxRequestLine) std::abort();
      if (req->headers.size() > HttpRequestParser::kMaxHeaders) std::abort();
      if (req->path.size() > req->target.size()) std::abort();
    }
    if (parser.buffered() > parser.max_buffered()) std::abort();
    if (const auto& r = parser.rejection()) {
      if (r->status < 400 || r->status > 499 || parser.buffered() != 0) std::abort();
      was_rejected = true;
    } else if (was_rejected) {
      std::abort();
    }
  }
  return 0;
}
