// libFuzzer target for protocol::ReplyParser: arbitrary bytes fed in arbitrary chunks.
// It may not do I/O; it checks the caps hold and a failed parser stays failed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol/smtp_reply.h"

using ringmta::protocol::ReplyParser;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the chunk size, so splits at every boundary get exercised.
  std::size_t chunk = (data[0] % 16) + 1;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  ReplyParser parser;
  bool was_failed = false;
  for (std::size_t i = 0; i < in.size(); i += chunk) {
    bool ok = parser.feed(in.substr(i, chunk));
    if (ok == parser.failed()) std::abort();
    if (was_failed && ok) std::abort();  // stays failed
    was_failed = parser.failed();
    if (parser.buffered() > ReplyParser::kMaxLine * (ReplyParser::kMaxLines + 1) + 2) std::abort();
    while (auto reply = parser.next()) {
      if (reply->code < 200 || reply->code > 599) std::abort();
      if (reply->lines.empty() || reply->lines.size() > ReplyParser::kMaxLines) std::abort();
      for (const auto& line : reply->lines) {
        if (line.size() > ReplyParser::kMaxLine) std::abort();
      }
      if (reply->enhanced) {
        int k = reply->enhanced->klass;
        if (k != 2 && k != 4 && k != 5) std::abort();
      }
      (void)reply->summary();
      (void)reply->text();
    }
    if ((data[0] & 0x80) != 0 && i % 64 == 0) {
      parser.discard_buffered();
      if (parser.failed() || parser.buffered() != 0) std::abort();
      was_failed = false;
    }
  }
  return 0;
}
