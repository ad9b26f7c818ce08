// read_file implementation: stdio in 64 KiB reads, stopping as soon as the limit is passed.
#include "util/file.h"

#include <cerrno>
#include <cstdio>

#include "util/errno_text.h"

namespace ringmta {

Result<std::string> read_file(const std::string& path, std::string_view what,
                              std::size_t max_bytes) {
  std::string text;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int err = errno;
    return make_error(path + ": cannot open the " + std::string(what) + " (" + errno_text(err) +
                      ")");
  }
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    text.append(buf, n);
    if (text.size() > max_bytes) {
      std::fclose(f);
      return make_error(path + ": " + std::string(what) + " larger than " +
                        std::to_string(max_bytes >> 20) + " MiB");
    }
  }
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) return make_error(path + ": read error (" + errno_text(err) + ")");
  return text;
}

}  // namespace ringmta
