// The route flags shared by `send`, `run`, `check` and `demo`, into config::RouteSettings.
#pragma once

#include <CLI/CLI.hpp>

#include "config/route_settings.h"

namespace ringmta::cli {

void add_route_options(CLI::App& app, config::RouteSettings& settings);

}  // namespace ringmta::cli
