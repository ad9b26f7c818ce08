// `ringmta sink`: a counting SMTP server for demos, tests and benchmarks (engine/sink_server).
#include "loadgen/sink_command.h"

#include <memory>

#include "cli/commands.h"

namespace ringmta::cli {

Command add_sink_command(CLI::App& app) {
  auto* sub = app.add_subcommand("sink", "Accept and count mail (for demos, tests, benchmarks)");
  auto o = std::make_shared<loadgen::SinkOptions>();
  sub->add_option("--listen", o->listen, "HOST:PORT to listen on (port 0: any free port)");
  sub->add_option("--record", o->record_path, "Append each accepted recipient to this file");
  sub->add_option("--record-messages", o->messages_dir,
                  "Keep every accepted message whole in this directory, as QUEUE-ID.eml (slow: "
                  "for looking at the copies, not for benchmarks)")
      ->check(CLI::ExistingDirectory);
  sub->add_option("--threads", o->threads, "Event-loop threads")->check(CLI::Range(1, 64));
  sub->add_option("--tls-cert", o->tls_cert_path,
                  "Offer STARTTLS with this PEM certificate (chain); needs --tls-key")
      ->check(CLI::ExistingFile);
  sub->add_option("--tls-key", o->tls_key_path, "The PEM private key of --tls-cert")
      ->check(CLI::ExistingFile);
  sub->add_option(
         "--stats-every", o->stats_every_ms,
         "Print the counts every MS milliseconds, with the seconds since start (benchmarks "
         "watch for a count)")
      ->check(CLI::Range(0, 3'600'000));
  sub->add_option(
      "--script", o->scripts,
      "Misbehave for a recipient domain: DOMAIN:KEY[=VALUE],... with rcpt-4xx=PCT, "
      "rcpt-5xx=PCT, rcpt-421=PCT, data-4xx=PCT, data-5xx=PCT, 421-after=N, delay-ms=N, "
      "never-answer (DOMAIN * = all others; repeatable)");
  return {sub, [=]() -> int { return loadgen::run_sink_command(*o); }};
}

}  // namespace ringmta::cli
