// DkimSettings → signing keys (see dkim_settings.h).
#include "config/dkim_settings.h"

#include <set>
#include <utility>

namespace ringmta::config {
namespace {

std::vector<std::string> split_names(const std::string& list) {
  std::vector<std::string> names;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    std::size_t end = std::min(list.find(':', pos), list.size());
    if (end > pos) names.push_back(list.substr(pos, end - pos));
    pos = end + 1;
  }
  return names;
}

// The i-th key's value of a flag given 0, 1 or n times.
Result<const std::string*> nth(const std::vector<std::string>& values, std::size_t i, std::size_t n,
                               const char* flag) {
  if (values.empty()) return static_cast<const std::string*>(nullptr);
  if (values.size() == 1) return &values[0];
  if (values.size() == n) return &values[i];
  return make_error(
      std::string(flag) + " is given " + std::to_string(values.size()) + " times for " +
      std::to_string(n) +
      " keys: give it once (for every key) or once per key, in --dkim-domain's order");
}

}  // namespace

Result<std::vector<dkim::SigningKey>> load_dkim_keys(const DkimSettings& s) {
  const std::size_t n = s.domains.size();
  if (s.selectors.size() != n || s.key_files.size() != n) {
    return make_error("DKIM: " + std::to_string(n) + " --dkim-domain, " +
                      std::to_string(s.selectors.size()) + " --dkim-selector and " +
                      std::to_string(s.key_files.size()) +
                      " --dkim-key: each key needs all three, in the same order");
  }
  if (n == 0 && s.required) return make_error("--dkim-required needs a key (--dkim-domain ...)");
  std::vector<dkim::SigningKey> keys;
  std::set<std::pair<std::string, std::string>> seen;
  for (std::size_t i = 0; i < n; ++i) {
    dkim::KeySettings k{
        .domain = s.domains[i], .selector = s.selectors[i], .key_file = s.key_files[i]};
    auto algorithm = nth(s.algorithms, i, n, "--dkim-algorithm");
    auto canon = nth(s.canonicalizations, i, n, "--dkim-canonicalization");
    auto fields = nth(s.fields, i, n, "--dkim-headers");
    auto oversign = nth(s.oversign, i, n, "--dkim-oversign");
    for (const auto* r : {&algorithm, &canon, &fields, &oversign}) {
      if (!*r) return r->error();
    }
    if (*algorithm) k.algorithm = **algorithm;  // "" = what the key file holds
    if (*canon) k.canonicalization = **canon;
    if (*fields && !(*fields)->empty()) k.fields = split_names(**fields);
    if (*oversign) k.oversign = split_names(**oversign);  // "" = none
    auto key = dkim::load_signing_key(k);
    if (!key) return key.error();
    if (!seen.emplace(key->domain, key->selector).second) {
      return make_error("DKIM: selector " + key->selector + " of " + key->domain +
                        " is configured twice");
    }
    keys.push_back(std::move(*key));
  }
  return keys;
}

}  // namespace ringmta::config
