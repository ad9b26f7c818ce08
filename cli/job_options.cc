// add_job_options: the shared flags of send, run and serve.
#include "cli/job_options.h"

#include "cli/route_options.h"

namespace ringmta::cli {

void add_job_options(CLI::App& sub, JobOptions& o, bool service) {
  add_route_options(sub, o.route);
  add_admin_options(sub, o.admin);
  jobs::DeliverySettings& d = o.delivery;
  d.queue_dir = "./ringmta-queue";
  sub.add_option("--queue", d.queue_dir, "The RocksDB queue directory");
  sub.add_option("--delivery-log", d.delivery_log,
                 "Append one JSON line per outcome (recipient, host, IP, TLS, reply, bounce "
                 "category) to this file");
  sub.add_option("--delivery-log-max-size", d.delivery_log_max_mb,
                 "Rotate the delivery log when it reaches this many MiB (0: never)");
  sub.add_option("--delivery-log-keep", d.delivery_log_keep,
                 "Rotated delivery logs kept (FILE.1 newest .. FILE.N)")
      ->check(CLI::Range(1, 1000));
  if (!service) {
    sub.add_flag("--json", o.json, "Print one JSON object with the outcome at the end");
    sub.add_flag("--no-progress", o.no_progress, "Do not print the progress line");
    sub.add_flag("--until-done", d.until_done,
                 "Keep running until every recipient is delivered or has failed: deferred ones "
                 "are retried when due (until --max-age), instead of being left for a later `run`");
    sub.add_option("--wait-for-retries", d.wait_for_retries,
                   "Keep delivering while deferred recipients fall due within this many seconds (a "
                   "lost session is retried in seconds); later ones are left for `run`")
        ->check(CLI::Range(0, 24 * 3600))
        ->capture_default_str();
  }
  sub.add_option(
         "--bounce-mode", d.bounce_mode,
         "DSNs for permanent failures, to the envelope Sender: digest (default; one DSN per "
         "message listing many recipients), per-recipient, or none")
      ->check(CLI::IsMember({"digest", "per-recipient", "none"}));
  sub.add_option("--bounce-to", d.bounce_to, "Send every DSN to this address instead");
  sub.add_option("--bounce-digest-size", d.bounce_digest_size, "Recipients listed in one DSN")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000}));
  sub.add_option("--bounce-digest-every", d.bounce_digest_every,
                 "Seconds a failure waits at most for its digest DSN")
      ->check(CLI::Range(int64_t{1}, int64_t{86400}));
  sub.add_option("--bounce-rules", d.bounce_rules,
                 "A TOML bounce rule file tried before the built-in rules (repeatable; see "
                 "`ringmta classify`)")
      ->allow_extra_args(false);
  sub.add_flag("--no-suppress", d.no_suppress,
               "Do not add hard-bounced addresses to the suppression list");
}

}  // namespace ringmta::cli
