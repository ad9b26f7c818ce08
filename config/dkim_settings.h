// DkimSettings: the DKIM signing keys as the flags say them (--dkim-domain, --dkim-selector,
// --dkim-key, --dkim-algorithm, --dkim-canonicalization, --dkim-headers, --dkim-oversign), or the
// TOML's [[dkim]] tables turned into the same flags. Each of the first three is given once per
// key, in the same order; each of the others once for every key, once per key, or not at all
// (the defaults). load_dkim_keys() reads and checks every key file at start-up.
// It may not parse flags, sign, or print.
#pragma once

#include <string>
#include <vector>

#include "dkim/signing_key.h"
#include "util/result.h"

namespace ringmta::config {

struct DkimSettings {
  std::vector<std::string> domains;
  std::vector<std::string> selectors;
  std::vector<std::string> key_files;
  std::vector<std::string> algorithms;
  std::vector<std::string> canonicalizations;
  std::vector<std::string> fields;    // "from:to:subject", like h=
  std::vector<std::string> oversign;  // "from", "from:subject"; "" for none
  bool required = false;              // a copy whose From: domain has no key is not sent
};

// Errors name the flag or the key file.
Result<std::vector<dkim::SigningKey>> load_dkim_keys(const DkimSettings& settings);

}  // namespace ringmta::config
