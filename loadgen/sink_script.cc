// SinkScript implementation: a small spec parser (bounded: no allocation beyond the result).
#include "loadgen/sink_script.h"

#include <algorithm>
#include <charconv>

#include "util/strings.h"

namespace ringmta::loadgen {
namespace {

bool parse_percent(std::string_view text, double& out) {
  // from_chars for double is available in GCC 11+ (Debian 12 has 12).
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && out >= 0 && out <= 100;
}

bool parse_count(std::string_view text, uint32_t& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

Result<SinkScript> SinkScript::parse(std::span<const std::string> specs) {
  SinkScript script;
  for (const std::string& spec : specs) {
    auto fail = [&](const std::string& why) {
      return make_error("--script '" + spec + "': " + why);
    };
    std::size_t colon = spec.find(':');
    if (colon == std::string::npos || colon == 0) {
      return fail("expected DOMAIN:KEY=VALUE[,KEY=VALUE...]");
    }
    DomainScript d;
    d.domain = lower(std::string_view(spec).substr(0, colon));
    if (script.find(d.domain) != nullptr && script.find(d.domain)->domain == d.domain) {
      return fail("domain " + d.domain + " has a script already");
    }
    std::string_view rest = std::string_view(spec).substr(colon + 1);
    if (rest.empty()) return fail("no behaviour given");
    while (!rest.empty()) {
      std::size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      std::size_t eq = item.find('=');
      std::string_view key = item.substr(0, eq);
      std::string_view value =
          eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
      bool ok = true;
      if (key == "rcpt-4xx") {
        ok = parse_percent(value, d.rcpt_4xx);
      } else if (key == "rcpt-5xx") {
        ok = parse_percent(value, d.rcpt_5xx);
      } else if (key == "rcpt-421") {
        ok = parse_percent(value, d.rcpt_421);
      } else if (key == "data-4xx") {
        ok = parse_percent(value, d.data_4xx);
      } else if (key == "data-5xx") {
        ok = parse_percent(value, d.data_5xx);
      } else if (key == "421-after") {
        ok = parse_count(value, d.close_after) && d.close_after > 0;
      } else if (key == "delay-ms") {
        ok = parse_count(value, d.delay_ms) && d.delay_ms <= 3'600'000;
      } else if (key == "never-answer") {
        ok = eq == std::string_view::npos;
        d.never_answer = true;
      } else {
        return fail("unknown key '" + std::string(key) +
                    "' (rcpt-4xx, rcpt-5xx, rcpt-421, data-4xx, data-5xx, 421-after, delay-ms, "
                    "never-answer)");
      }
      if (!ok) return fail("bad value for '" + std::string(key) + "'");
    }
    if (d.rcpt_4xx + d.rcpt_5xx + d.rcpt_421 > 100 || d.data_4xx + d.data_5xx > 100) {
      return fail("4xx and 5xx shares of one stage add up to more than 100 %");
    }
    script.scripts_.push_back(std::move(d));
  }
  return script;
}

const DomainScript* SinkScript::find(std::string_view domain) const {
  const DomainScript* wildcard = nullptr;
  for (const DomainScript& d : scripts_) {
    if (d.domain == "*") {
      wildcard = &d;
      continue;
    }
    if (iequals(d.domain, domain)) return &d;
  }
  return wildcard;
}

}  // namespace ringmta::loadgen
