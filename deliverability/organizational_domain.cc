// organizational_domain (see organizational_domain.h).
#include "deliverability/organizational_domain.h"

#include <libpsl.h>

#include "util/strings.h"

namespace ringmta::deliverability {

std::string organizational_domain(std::string_view domain) {
  // psl_latest reads the newest list it finds once; the context is kept for the process.
  static const psl_ctx_t* const psl = psl_latest(nullptr);
  const std::string name = lower(domain);
  if (psl == nullptr) return name;
  const char* registrable = psl_registrable_domain(psl, name.c_str());
  return registrable != nullptr ? std::string(registrable) : name;
}

bool relaxed_aligned(std::string_view a, std::string_view b) {
  return organizational_domain(a) == organizational_domain(b);
}

}  // namespace ringmta::deliverability
