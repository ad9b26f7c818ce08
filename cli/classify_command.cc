// `ringmta classify`: prints the bounce category and hard/soft of SMTP replies given as arguments
// or as lines on stdin, for users reading logs and for scripts (--json). Wiring only: the rules
// live in bounce/classify.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bounce/classify.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/report.h"

namespace ringmta::cli {
namespace {

void print_one(const bounce::Classifier& classifier, const std::string& input, bool json) {
  protocol::Reply reply = bounce::parse_reply_text(input);
  bounce::Classification c = classifier.classify(reply);
  if (json) {
    nlohmann::json j;
    j["reply"] = input;
    j["code"] = reply.code;
    j["enhanced"] = reply.enhanced ? nlohmann::json(reply.enhanced->str()) : nlohmann::json();
    j["category"] = std::string(bounce::category_name(c.category));
    j["hard"] = c.hard;
    j["configuration"] = c.configuration;
    j["rule"] = c.rule;
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("%s %s%s\t%s\n", std::string(bounce::category_name(c.category)).c_str(),
                c.hard ? "hard" : "soft", c.configuration ? " configuration" : "",
                printable(input).c_str());
  }
}

}  // namespace

Command add_classify_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "classify", "Print the bounce category and hard/soft of SMTP replies (arguments or stdin)");
  auto replies = std::make_shared<std::vector<std::string>>();
  auto rules = std::make_shared<std::vector<std::string>>();
  auto json = std::make_shared<bool>(false);
  sub->add_option("reply", *replies,
                  "Reply texts, e.g. '550 5.1.1 User unknown'; none: one per line on stdin");
  sub->add_option("--rules", *rules,
                  "A TOML rule file tried before the built-in rules (repeatable)")
      ->allow_extra_args(false);  // one file per --rules: the replies after it stay replies
  sub->add_flag("--json", *json,
                "One JSON object per reply: reply, code, enhanced, category, hard, "
                "configuration, rule");
  return {sub, [=]() -> int {
            bounce::Classifier classifier;
            for (const auto& path : *rules) {
              auto loaded = classifier.load_rules_file(path);
              if (!loaded) {
                std::fprintf(stderr, "ringmta: --rules %s\n", loaded.error().message.c_str());
                return kUsage;
              }
            }
            if (!replies->empty()) {
              for (const auto& r : *replies) print_one(classifier, r, *json);
              return 0;
            }
            std::string line;
            while (std::getline(std::cin, line)) {
              if (!line.empty() && line.back() == '\r') line.pop_back();
              if (line.find_first_not_of(" \t") == std::string::npos) continue;
              print_one(classifier, line, *json);
            }
            return 0;
          }};
}

}  // namespace ringmta::cli
