// ringmta: command-line entry point. Parses arguments (and --config TOML files), installs the
// signal handlers, and runs one subcommand. No delivery logic lives here.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/report.h"
#include "cli/suggest.h"

namespace ringmta::cli {
std::atomic<bool> g_interrupted{false};
std::vector<std::string> g_argv;
}  // namespace ringmta::cli

namespace {

void on_signal(int) {
  ringmta::cli::g_interrupted.store(true);
}

// After CLI11's complaint ("... not expected", "--message is required"): the flag each unknown one
// was probably meant to be, among the options of the command given.
void suggest_flags(const CLI::App& app, const std::vector<std::string>& args) {
  const CLI::App* command = nullptr;
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (args.size() > 1 && sub->get_name() == args[1]) command = sub;
  }
  if (command == nullptr) return;
  std::vector<std::string> flags;
  for (const CLI::Option* option : command->get_options()) {
    for (const std::string& name : option->get_lnames()) flags.push_back("--" + name);
  }
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string flag = args[i].substr(0, args[i].find('='));
    if (!flag.starts_with("--") || std::find(flags.begin(), flags.end(), flag) != flags.end()) {
      continue;
    }
    if (auto guess = ringmta::cli::nearest(flag, flags)) {
      std::fprintf(stderr, "ringmta: %s: did you mean %s?\n", flag.c_str(), guess->c_str());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ringmta: high-throughput mass-mail delivery", "ringmta"};
  app.require_subcommand(1);
  const ringmta::cli::Command commands[] = {
      ringmta::cli::add_send_command(app),   ringmta::cli::add_run_command(app),
      ringmta::cli::add_check_command(app),  ringmta::cli::add_sink_command(app),
      ringmta::cli::add_demo_command(app),   ringmta::cli::add_classify_command(app),
      ringmta::cli::add_queue_command(app),  ringmta::cli::add_suppress_command(app),
      ringmta::cli::add_report_command(app), ringmta::cli::add_bounces_command(app),
      ringmta::cli::add_blast_command(app),  ringmta::cli::add_dkim_command(app),
      ringmta::cli::add_serve_command(app),  ringmta::cli::add_render_command(app),
  };
  app.set_version_flag("--version",
                       std::string("ringmta ") + RINGMTA_VERSION + " (" + RINGMTA_REVISION + ")");
  ringmta::cli::g_argv.assign(argv, argv + argc);
  if (argc == 1) {  // no command: what the commands are, on stderr, as a usage error
    std::fprintf(stderr, "%s", app.help().c_str());
    return ringmta::cli::kUsage;
  }
  auto args = ringmta::cli::apply_config_file(ringmta::cli::g_argv, app);
  if (!args) {
    std::fprintf(stderr, "ringmta: %s\n", args.error().message.c_str());
    return ringmta::cli::kUsage;
  }
  std::vector<std::string> names;
  for (const auto& command : commands) names.push_back(command.app->get_name());
  if (args->size() > 1 && !(*args)[1].starts_with('-') &&
      std::find(names.begin(), names.end(), (*args)[1]) == names.end()) {
    const auto guess = ringmta::cli::nearest((*args)[1], names);
    std::fprintf(stderr, "ringmta: unknown command \"%s\"%s (ringmta --help lists them)\n",
                 (*args)[1].c_str(), guess ? ("; did you mean \"" + *guess + "\"?").c_str() : "");
    return ringmta::cli::kUsage;
  }
  std::vector<std::string> reversed(args->rbegin(), args->rend() - 1);  // CLI11 wants it reversed
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    if (rc != 0) suggest_flags(app, *args);  // "--mesage": also when "--message is required"
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
