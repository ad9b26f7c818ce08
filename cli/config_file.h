// --config FILE: settings in TOML under the flags' own names (`smarthost = "host:587"`,
// `max-connections = 8`, `insecure = true`). They are turned into command-line arguments placed
// after the subcommand, for every key the command line does not already give, so one parser
// (CLI11) validates both and the command line wins.
#pragma once

#include <string>
#include <vector>

#include "util/result.h"

namespace ringmta::cli {

// Returns argv with the config file's settings inserted; argv unchanged without --config.
Result<std::vector<std::string>> apply_config_file(const std::vector<std::string>& argv);

}  // namespace ringmta::cli
