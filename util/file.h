// read_file: the whole of a small file (a rule file, a campaign's message) as a string. Blocking
// stdio for start-up and command-line code: it may not be called on an event loop, nor parse or
// check what it reads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "util/result.h"

namespace ringmta {

// Errors name the path, `what` the file is, and the system's reason: "PATH: cannot open the WHAT
// (No such file or directory)", "PATH: WHAT larger than N MiB" (more than max_bytes), "PATH: read
// error (Is a directory)".
Result<std::string> read_file(const std::string& path, std::string_view what,
                              std::size_t max_bytes);

}  // namespace ringmta
