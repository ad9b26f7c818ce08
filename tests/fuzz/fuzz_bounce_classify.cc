// libFuzzer target: a TOML rule file and SMTP replies into bounce::Classifier. Input: the rule
// file, then a line "----", then one reply per line. Checks that nothing crashes, that bad files
// add no rules, and the verdict's invariants (4xx always soft, 2xx/3xx never a failure, names
// round-trip). It may not touch sockets or files.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bounce/classify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringmta::bounce;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t split = input.find("\n----\n");
  std::string_view rules =
      split == std::string_view::npos ? std::string_view() : input.substr(0, split);
  std::string_view replies = split == std::string_view::npos ? input : input.substr(split + 6);

  Classifier classifier;
  if (!rules.empty()) {
    auto added = classifier.add_rules_toml(rules, "fuzz.toml");
    if (!added && classifier.user_rule_count() != 0) std::abort();  // all or nothing
  }
  int lines = 0;
  while (!replies.empty() && lines++ < 64) {
    std::size_t nl = replies.find('\n');
    std::string_view line = replies.substr(0, nl);
    replies = nl == std::string_view::npos ? std::string_view() : replies.substr(nl + 1);
    ringmta::protocol::Reply reply = parse_reply_text(line);
    if (reply.code != 0 && (reply.code < 200 || reply.code > 599)) std::abort();
    for (bool local : {false, true}) {
      reply.local = local;
      Classification c = classifier.classify(reply);
      auto index = static_cast<int>(c.category);
      if (index < 0 || index >= kCategoryCount) std::abort();
      if (category_from_name(category_name(c.category)) != c.category) std::abort();
      if (reply.code >= 400 && reply.code < 500 && c.hard) std::abort();
      if (reply.code >= 200 && reply.code < 400 && (c.hard || c.rule != "not-a-failure")) {
        std::abort();
      }
      if (c.rule.empty()) std::abort();
    }
  }
  return 0;
}
