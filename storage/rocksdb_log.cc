// RocksDB info log to stderr; see rocksdb_log.h. It may not open files or allocate per line.
#include "storage/rocksdb_log.h"

#include <cstdarg>
#include <cstdio>

namespace ringmta::storage {
namespace {

class StderrLogger final : public rocksdb::Logger {
 public:
  explicit StderrLogger(rocksdb::InfoLogLevel level) : rocksdb::Logger(level) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    // One write per line, so concurrent lines do not interleave.
    char line[1024];
    int n = std::snprintf(line, sizeof(line), "rocksdb: ");
    int m = std::vsnprintf(line + n, sizeof(line) - static_cast<std::size_t>(n) - 1, format, ap);
    if (m < 0) return;
    std::size_t len = static_cast<std::size_t>(n) + static_cast<std::size_t>(m);
    if (len > sizeof(line) - 2) len = sizeof(line) - 2;
    while (len > 0 && line[len - 1] == '\n') --len;  // some RocksDB formats end in a newline
    line[len++] = '\n';
    std::fwrite(line, 1, len, stderr);
  }
};

}  // namespace

std::shared_ptr<rocksdb::Logger> make_stderr_rocksdb_logger(rocksdb::InfoLogLevel level) {
  return std::make_shared<StderrLogger>(level);
}

}  // namespace ringmta::storage
