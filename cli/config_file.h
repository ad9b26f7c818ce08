// --config FILE: settings in TOML under the flags' own names (`smarthost = "host:587"`,
// `max-connections = 8`, `insecure = true`), or with underscores as the throttle file spells its
// keys (`max_connections = 8`). They are turned into command-line arguments placed after the
// subcommand, for every key the command line does not already give, so one parser (CLI11)
// validates both and the command line wins; a key that is no flag of the command is an error
// naming the file and the key (and the flag it was probably meant to be).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "util/result.h"

namespace ringmta::cli {

// Returns argv with the config file's settings inserted; argv unchanged without --config. `app`:
// the parser whose subcommand argv[1] names, for the flags a key may be.
Result<std::vector<std::string>> apply_config_file(const std::vector<std::string>& argv,
                                                   const CLI::App& app);

}  // namespace ringmta::cli
