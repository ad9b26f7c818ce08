// `ringmta classify`: prints the bounce category and hard/soft of SMTP replies given as arguments
// or as lines on stdin, for users reading logs and for scripts (--json), and whether a smart host's
// route pauses on them (configuration: the same verdict delivery acts on); --list-rules prints
// the table. Wiring only: the rules live in bounce/classify.
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

// One rule of the table, as a rule file would write it.
void print_rule(const bounce::Rule& rule, const char* source, bool json) {
  std::vector<std::string> codes, statuses;
  for (const auto& c : rule.codes) codes.push_back(bounce::code_pattern_text(c));
  for (const auto& s : rule.statuses) statuses.push_back(bounce::status_pattern_text(s));
  const bool configuration = bounce::rule_is_configuration(rule);
  if (json) {
    nlohmann::json j{{"name", rule.name},
                     {"source", source},
                     {"category", std::string(bounce::category_name(rule.category))},
                     {"configuration", configuration},
                     {"codes", codes},
                     {"statuses", statuses},
                     {"text", rule.text},
                     {"local", rule.local ? nlohmann::json(*rule.local) : nlohmann::json()}};
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  std::string what;
  const auto join = [&what](const char* label, const std::vector<std::string>& items) {
    if (items.empty()) return;
    what += std::string(what.empty() ? "" : "  ") + label + "=";
    for (std::size_t i = 0; i < items.size(); ++i) what += (i ? "|" : "") + items[i];
  };
  join("codes", codes);
  join("status", statuses);
  join("text", rule.text);
  std::printf("%s\t%s%s\t%s\n", rule.name.c_str(),
              std::string(bounce::category_name(rule.category)).c_str(),
              configuration ? " configuration" : "", printable(what).c_str());
}

}  // namespace

Command add_classify_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "classify", "Print the bounce category and hard/soft of SMTP replies (arguments or stdin)");
  auto replies = std::make_shared<std::vector<std::string>>();
  auto rules = std::make_shared<std::vector<std::string>>();
  auto json = std::make_shared<bool>(false);
  auto list_rules = std::make_shared<bool>(false);
  sub->add_option("reply", *replies,
                  "Reply texts, e.g. '550 5.1.1 User unknown'; none: one per line on stdin");
  sub->add_option("--rules", *rules,
                  "A TOML rule file tried before the built-in rules (repeatable)")
      ->allow_extra_args(false);  // one file per --rules: the replies after it stay replies
  sub->add_flag("--json", *json,
                "One JSON object per reply: reply, code, enhanced, category, hard, "
                "configuration, rule");
  sub->add_flag("--list-rules", *list_rules,
                "Print the rules instead, in the order they are tried: those of --rules files, "
                "then the built-in table (name, category, configuration, codes, status, text)");
  return {sub, [=]() -> int {
            bounce::Classifier classifier;
            for (const auto& path : *rules) {
              auto loaded = classifier.load_rules_file(path);
              if (!loaded) {
                std::fprintf(stderr, "ringmta: --rules %s\n", loaded.error().message.c_str());
                return kUsage;
              }
            }
            if (*list_rules) {
              for (const auto& rule : classifier.user_rules()) print_rule(rule, "rules", *json);
              for (const auto& rule : bounce::Classifier::default_rules()) {
                print_rule(rule, "built-in", *json);
              }
              return 0;
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
