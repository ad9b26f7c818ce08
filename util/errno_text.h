// errno_text: the system's text for an errno value (strerror), for error messages. It may not read
// errno itself (the caller passes it, before anything else can change it) or add any wording.
#pragma once

#include <cstring>
#include <string>

namespace ringmta {

inline std::string errno_text(int err) {
  return std::strerror(err);
}

}  // namespace ringmta
