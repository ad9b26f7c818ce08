// SinkScript: how `ringmta sink` misbehaves for chosen recipient domains, so tests and benchmarks
// can meet a receiver that pushes back: a share of RCPTs or messages answered 4xx or 5xx, 421 and
// a hang-up after N messages on a connection, a delay before every reply, or a RCPT that is never
// answered. Parsed from `--script` specs, e.g.
//   "slow.test:delay-ms=200"            "grey.test:rcpt-4xx=30,data-5xx=1"
//   "busy.test:421-after=10"            "hole.test:never-answer"        "*:rcpt-5xx=0.5"
//   "hot.test:rcpt-421=100"
// (percentages; "*" applies to every domain without its own script).
// It may not: do I/O or read clocks; the session rolls the dice with its own seeded generator.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace ringmta::loadgen {

struct DomainScript {
  std::string domain;         // lower case; "*" = every other domain
  double rcpt_4xx = 0;        // percent of RCPTs answered 451 4.7.1
  double rcpt_5xx = 0;        // percent of RCPTs answered 550 5.1.1
  double rcpt_421 = 0;        // percent of RCPTs answered 421 4.7.0 "slow down", then closed
  double data_4xx = 0;        // percent of messages answered 451 4.3.0 after the final dot
  double data_5xx = 0;        // percent of messages answered 554 5.7.1 after the final dot
  uint32_t close_after = 0;   // 421 4.7.0 and close at the MAIL after this many messages (0: never)
  uint32_t delay_ms = 0;      // every reply once a RCPT for this domain was seen waits this long
  bool never_answer = false;  // its RCPT gets no reply at all (the connection hangs)
};

class SinkScript {
 public:
  // Each spec is "DOMAIN:KEY[=VALUE][,KEY[=VALUE]...]"; errors name the spec and the key.
  static Result<SinkScript> parse(std::span<const std::string> specs);

  // The script for a recipient domain (exact, case-insensitive), else "*", else null.
  const DomainScript* find(std::string_view domain) const;
  bool empty() const { return scripts_.empty(); }
  const std::vector<DomainScript>& scripts() const { return scripts_; }

 private:
  std::vector<DomainScript> scripts_;
};

}  // namespace ringmta::loadgen
