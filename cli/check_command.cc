// `ringmta check`: its flags, the relay probe (jobs/relay_probe.h) and what it prints.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/report.h"
#include "cli/route_options.h"
#include "jobs/relay_probe.h"
#include "message/address.h"

namespace ringmta::cli {

Command add_check_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "check", "Probe the smart host (EHLO, STARTTLS, AUTH, MAIL, RCPT) without sending mail");
  auto o = std::make_shared<config::RouteSettings>();
  auto to = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  add_route_options(*sub, *o);
  sub->add_option("--to", *to, "A recipient to try RCPT TO with")->required();
  sub->add_flag("--json", *json, "Print {\"accepted\":BOOL,\"diagnosis\":...} at the end");
  return {sub, [=]() -> int {
            auto route = config::build_route(*o);
            if (!route) {
              std::fprintf(stderr, "ringmta: %s\n", route.error().message.c_str());
              return kUsage;
            }
            if (route->direct) {
              std::fprintf(stderr, "ringmta: check probes a smart host: give --smarthost\n");
              return kUsage;
            }
            auto rcpt = message::parse_address(*to);
            if (!rcpt) {
              std::fprintf(stderr, "ringmta: --to: %s\n", rcpt.error().message.c_str());
              return kUsage;
            }
            std::string sender = route->sender_override;
            if (sender.empty()) sender = o->user.find('@') != std::string::npos ? o->user : "";
            route->facts.sender = sender;
            auto probed =
                jobs::probe_relay(route.value(), sender, rcpt->str(), [](std::string_view line) {
                  std::fprintf(stderr, "%.*s\n", int(line.size()), line.data());
                });
            if (!probed) return usage_error(probed.error().message);
            const bool accepted = probed->accepted;
            const std::string& diagnosis = probed->diagnosis;
            std::printf("%s\n", accepted ? "relaying would be accepted" : diagnosis.c_str());
            if (*json) {
              nlohmann::json j;
              j["accepted"] = accepted;
              j["diagnosis"] = accepted ? nlohmann::json(nullptr) : nlohmann::json(diagnosis);
              std::printf("%s\n", j.dump().c_str());
            }
            return accepted ? kAllDelivered : kStillQueued;
          }};
}

}  // namespace ringmta::cli
