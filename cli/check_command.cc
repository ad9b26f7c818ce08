// `ringmta check`: its flags, the relay probe (jobs/relay_probe.h), the deliverability check
// (jobs/deliverability_check.h, with --deliverability) and what they print.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/report.h"
#include "cli/route_options.h"
#include "jobs/deliverability_check.h"
#include "jobs/relay_probe.h"
#include "message/address.h"

namespace ringmta::cli {
namespace {

// Exit 0 when nothing would get the mail refused, 1 otherwise.
int check_deliverability(const engine::RouteConfig& route,
                         const jobs::DeliverabilityQuestion& question, bool json) {
  auto findings = jobs::check_deliverability(route, question);
  if (!findings) return usage_error(findings.error().message);
  bool all_ok = true;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& f : *findings) {
    all_ok = all_ok && f.ok;
    std::printf("%-8s %-5s %s\n", f.ok ? "ok" : "PROBLEM", f.check.c_str(), f.words.c_str());
    list.push_back({{"check", f.check}, {"ok", f.ok}, {"words", f.words}});
  }
  std::printf("%s\n", all_ok ? "nothing found that would get the mail refused"
                             : "fix the problems above, or Gmail, Yahoo and Outlook will refuse "
                               "or junk the mail");
  if (json) std::printf("%s\n", nlohmann::json{{"ok", all_ok}, {"findings", list}}.dump().c_str());
  return all_ok ? kAllDelivered : kSomeFailed;
}

}  // namespace

Command add_check_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "check",
      "Probe the smart host (EHLO, STARTTLS, AUTH, MAIL, RCPT) without sending mail; or, with "
      "--deliverability, check SPF, DKIM, DMARC, MX and PTR for a sender");
  auto o = std::make_shared<config::RouteSettings>();
  auto to = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  add_route_options(*sub, *o);
  auto deliverability = std::make_shared<bool>(false);
  auto from = std::make_shared<std::string>();
  sub->add_option("--to", *to, "A recipient to try RCPT TO with (the relay probe)");
  sub->add_flag(
      "--deliverability", *deliverability,
      "Look up what makes Gmail, Yahoo and Outlook refuse or junk the mail: SPF, the DKIM "
      "keys (--dkim-*), DMARC, the Sender domain's MX, and with --direct the PTR and whether "
      "outbound port 25 is open");
  sub->add_option("--from", *from, "With --deliverability: the From: address of the mail");
  auto question = std::make_shared<jobs::DeliverabilityQuestion>();
  sub->add_option("--port25-probe", question->port25_domains,
                  "With --deliverability --direct: domains whose MX host must greet from here "
                  "(outbound port 25; \"none\" to skip)")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_flag("--json", *json, "Print {\"accepted\":BOOL,\"diagnosis\":...} at the end");
  return {sub, [=]() -> int {
            auto route = config::build_route(*o);
            if (!route) {
              std::fprintf(stderr, "ringmta: %s\n", route.error().message.c_str());
              return kUsage;
            }
            print_warnings(*route);
            if (*deliverability) {
              if (from->empty()) return usage_error("--deliverability needs --from ADDRESS");
              question->from = *from;
              question->sender = route->sender_override;
              question->dns_servers = o->dns_servers;
              if (question->port25_domains == std::vector<std::string>{"none"})
                question->port25_domains.clear();
              return check_deliverability(*route, *question, *json);
            }
            if (to->empty()) return usage_error("check needs --to ADDRESS (or --deliverability)");
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
