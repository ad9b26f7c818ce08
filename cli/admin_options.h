// The admin listener flags shared by `send`, `run` and `demo` (--admin, --admin-domains,
// --linger), and starting the listener by them: a default address that is busy is a warning (the
// job goes on without it); an explicitly given --admin that cannot bind is a usage error (exit 2).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "engine/delivery.h"
#include "http/admin_server.h"
#include "storage/queue.h"
#include "util/result.h"

namespace ringmta::cli {

struct AdminOptions {
  std::string listen = "127.0.0.1:9464";
  std::size_t domains = 50;  // per-domain series kept; the rest are "other"
  int linger = 0;            // seconds the listener stays up after the job
  CLI::Option* listen_option = nullptr;
};

void add_admin_options(CLI::App& app, AdminOptions& options);

// Starts the listener (or not, for "none" or a busy default address, with a warning on stderr).
// Prints the URL when one is listening.
// warnings: where a warning goes instead of stderr (the service logs it), and then the listener's
// address is not printed either (the service's start event names it).
Result<std::unique_ptr<http::AdminServer>> start_admin(
    const AdminOptions& options, std::vector<std::string>* warnings = nullptr);

// Wires the listener into a delivery: snapshots are published to it, domains bounded by options.
void attach_admin(http::AdminServer* server, const AdminOptions& options,
                  engine::DeliveryOptions& delivery);

// When the queue has an unsubscribe secret (a campaign asked for unsubscribe links): the
// listener answers them under /u/ (unsubscribe/endpoint.h), and tells feed (made here when null)
// of each address, which becomes the delivery's suppression feed. queue must outlive the listener.
// announce: print where the links are answered (the service's start event says it instead).
Result<void> serve_unsubscribes(http::AdminServer* server, storage::Queue& queue,
                                engine::DeliveryOptions& delivery,
                                std::shared_ptr<engine::SuppressionFeed> feed,
                                bool announce = true);

// After the job: keeps the listener up for --linger seconds (until Ctrl-C), then stops it.
void linger_admin(http::AdminServer* server, const AdminOptions& options);

}  // namespace ringmta::cli
