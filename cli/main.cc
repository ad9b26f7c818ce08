// ringmta: command-line entry point. Parses arguments (and --config TOML files), installs the
// signal handlers, and runs one subcommand. No delivery logic lives here.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/report.h"

namespace ringmta::cli {
std::atomic<bool> g_interrupted{false};
}

namespace {

void on_signal(int) {
  ringmta::cli::g_interrupted.store(true);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ringmta: high-throughput mass-mail delivery"};
  app.require_subcommand(1);
  const ringmta::cli::Command commands[] = {
      ringmta::cli::add_send_command(app),   ringmta::cli::add_run_command(app),
      ringmta::cli::add_check_command(app),  ringmta::cli::add_sink_command(app),
      ringmta::cli::add_demo_command(app),   ringmta::cli::add_classify_command(app),
      ringmta::cli::add_queue_command(app),  ringmta::cli::add_suppress_command(app),
      ringmta::cli::add_report_command(app), ringmta::cli::add_bounces_command(app),
      ringmta::cli::add_blast_command(app),  ringmta::cli::add_dkim_command(app),
  };
  auto args = ringmta::cli::apply_config_file(std::vector<std::string>(argv, argv + argc));
  if (!args) {
    std::fprintf(stderr, "ringmta: %s\n", args.error().message.c_str());
    return ringmta::cli::kUsage;
  }
  std::vector<std::string> reversed(args->rbegin(), args->rend() - 1);  // CLI11 wants it reversed
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : ringmta::cli::kUsage;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  for (const auto& command : commands) {
    if (command.app->parsed()) {
      try {
        return command.run();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "ringmta: %s\n", e.what());
        return ringmta::cli::kUsage;
      }
    }
  }
  return ringmta::cli::kUsage;
}
