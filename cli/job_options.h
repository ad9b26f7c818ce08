// The flags that `send`, `run` and `serve` share: the route, the admin listener, the queue, the
// delivery log and bounces, and for the commands that end (send, run) when to end and what to
// print. Registration only; the commands read the filled-in struct.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/admin_options.h"
#include "config/route_settings.h"
#include "jobs/delivery_job.h"

namespace ringmta::cli {

struct JobOptions {
  config::RouteSettings route;
  AdminOptions admin;
  jobs::DeliverySettings delivery;
  bool json = false;
  bool no_progress = false;
};

// service: the flags of a job that runs until it is stopped (`serve`): without --until-done,
// --wait-for-retries, --json and --no-progress, which only say when a job ends and what it prints.
void add_job_options(CLI::App& sub, JobOptions& options, bool service = false);

}  // namespace ringmta::cli
