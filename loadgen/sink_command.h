// `ringmta sink`: runs a SinkServer in the foreground until SIGINT or SIGTERM, then prints a
// summary. It may not parse command-line arguments (cli/ does) or install signal handlers: it
// blocks the two signals and waits for them on a signalfd.
#pragma once

#include "loadgen/sink_server.h"

namespace ringmta::loadgen {

// Prints "sink listening on HOST:PORT" once serving and, after a signal,
// "sink: N messages, N recipients, N bytes, N connections". Returns the process exit code:
// 0, or 1 if the server could not start (the reason goes to stderr).
int run_sink_command(const SinkOptions& options);

}  // namespace ringmta::loadgen
