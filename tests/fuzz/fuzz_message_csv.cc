// libFuzzer target for message::CsvReader: reads every record of arbitrary bytes via fmemopen.
// It may not write files; it checks only that reading terminates and line numbers never go back.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "message/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::FILE* f = fmemopen(const_cast<uint8_t*>(data), size, "rb");
  if (f == nullptr) return 0;
  ringmta::message::CsvReader reader(f);
  ringmta::message::CsvRecord record;
  std::size_t last_line = 0;
  for (std::size_t n = 0;; ++n) {
    const auto status = reader.next(record);
    if (status == ringmta::message::CsvReader::Status::kEnd) break;
    if (record.line < last_line || n > size + 1) std::abort();  // no going back, no endless loop
    last_line = record.line;
  }
  std::fclose(f);
  return 0;
}
