// The subcommands of `ringmta`. Each registers its flags on a CLI11 subcommand and returns the
// function that runs it once parsing succeeded.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <functional>

namespace ringmta::cli {

using Runner = std::function<int()>;
struct Command {
  CLI::App* app;  // the subcommand, to see whether it was chosen
  Runner run;
};

// Set by SIGINT/SIGTERM; long-running commands stop cleanly when they see it.
extern std::atomic<bool> g_interrupted;
// The command line as given (before --config was applied): `serve` parses it again on SIGHUP.
extern std::vector<std::string> g_argv;

Command add_send_command(CLI::App& app);   // send: ingest a message + CSV, then deliver
Command add_run_command(CLI::App& app);    // run: deliver what is queued
Command add_check_command(CLI::App& app);  // check: probe a smart host
Command add_sink_command(CLI::App& app);   // sink: a counting SMTP server
Command add_demo_command(CLI::App& app);   // demo: a newsletter to a built-in local sink
// classify: the bounce category and hard/soft of SMTP replies
Command add_classify_command(CLI::App& app);
// queue: list a queue (counts, top domains, oldest deferred), flush, drop a campaign
Command add_queue_command(CLI::App& app);
// suppress: add, remove, list, import the suppression list
Command add_suppress_command(CLI::App& app);
// report: a campaign's permanent failures by category, or the bounced recipients as CSV
Command add_report_command(CLI::App& app);
// bounces ingest: DSNs and complaints that came back, into failure records and suppression
Command add_bounces_command(CLI::App& app);
// blast: load-test any SMTP server
Command add_blast_command(CLI::App& app);
// dkim keygen: a signing key and its DNS record
Command add_dkim_command(CLI::App& app);
// serve: the long-running service (continuous delivery, the HTTP/JSON API)
Command add_serve_command(CLI::App& app);
// render: the copy one recipient of a send would get, printed
Command add_render_command(CLI::App& app);

}  // namespace ringmta::cli
