// libFuzzer target for http::HttpRequestParser: arbitrary bytes fed in arbitrary chunks, with
// the bodies of POSTs streamed (Content-Length or chunked) when the input's first byte is odd.
// It may not do I/O; it checks the bounds hold, requests are well-formed, a streamed body never
// exceeds its limit, and a rejected parser stays rejected with a 4xx status.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/request_parser.h"

using ringmta::http::HttpRequestParser;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t chunk = (data[0] % 64) + 1;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  HttpRequestParser parser;
  constexpr uint64_t kMaxStreamed = 100'000;
  if (data[0] & 1) {
    parser.stream_bodies([](const ringmta::http::HttpRequest& h) { return h.method == "POST"; },
                         kMaxStreamed);
  }
  bool was_rejected = false;
  std::string piece;
  for (std::size_t i = 0; i < in.size(); i += chunk) {
    parser.feed(in.substr(i, chunk));
    for (;;) {
      if (parser.in_body()) {
        piece.clear();
        const auto status = parser.read_body(piece);
        if (parser.body_read() > kMaxStreamed) std::abort();
        if (status != HttpRequestParser::BodyStatus::kEnd) break;
        continue;
      }
      auto req = parser.next();
      if (!req) break;
      if (req->streamed && !req->body.empty()) std::abort();
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
