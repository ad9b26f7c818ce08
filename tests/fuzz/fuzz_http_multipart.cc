// libFuzzer target for http::MultipartReader: arbitrary bodies fed in arbitrary pieces, with a
// boundary taken from the input. It may not do I/O; it checks that the buffer stays bounded, that
// data comes only inside a part, that no event follows the end or a failure, and that the part
// count stays within kMaxParts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/multipart.h"

using ringmta::http::MultipartReader;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t chunk = (data[0] % 64) + 1;
  const std::size_t boundary_length = (data[1] % 8) + 1;
  std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (in.size() < boundary_length) return 0;
  MultipartReader reader(std::string(in.substr(0, boundary_length)));
  in.remove_prefix(boundary_length);
  bool in_part = false, over = false;
  std::size_t parts = 0;
  for (std::size_t i = 0; i < in.size(); i += chunk) {
    const std::string_view piece = in.substr(i, chunk);
    reader.feed(piece);
    for (;;) {
      const auto event = reader.next();
      if (event == MultipartReader::Event::kNeedMore) break;
      if (event == MultipartReader::Event::kEnd || event == MultipartReader::Event::kFailed) {
        if (event == MultipartReader::Event::kFailed && reader.error().empty()) std::abort();
        over = true;
        break;
      }
      if (over) std::abort();
      if (event == MultipartReader::Event::kPartStart) {
        if (in_part || ++parts > MultipartReader::kMaxParts) std::abort();
        in_part = true;
      } else if (event == MultipartReader::Event::kData) {
        if (!in_part || reader.data().empty()) std::abort();
      } else if (event == MultipartReader::Event::kPartEnd) {
        if (!in_part) std::abort();
        in_part = false;
      }
    }
    if (reader.buffered() > piece.size() + MultipartReader::kMaxPartHead + boundary_length + 8) {
      std::abort();
    }
  }
  (void)reader.finish();
  return 0;
}
