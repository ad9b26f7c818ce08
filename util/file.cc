// read_file implementation: stdio in 64 KiB reads, stopping as soon as the limit is passed.
#include "util/file.h"

#include <cstdio>

namespace ringmta {

Result<std::string> read_file(const std::string& path, std::string_view what,
                              std::size_t max_bytes) {
  std::string text;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return make_error(path + ": cannot open the " + std::string(what));
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
  std::fclose(f);
  if (failed) return make_error(path + ": read error");
  return text;
}

}  // namespace ringmta
