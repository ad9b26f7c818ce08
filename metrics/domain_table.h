// DomainTable: bounded per-domain series for labels. At most `labeled` domains keep their own
// series; every other outcome is counted under `other`. Slots are given when a batch of outcomes
// arrives, to that batch's domains with the most volume, before their counts are added: so a
// labeled domain's series holds all of its outcomes, a domain keeps its slot once given, and every
// exported counter stays monotonic (a mass mailing's large domains show up in its first batches).
// Once the slots are full, new domains are counted under `other`.
// It may not: be used by more than one thread (the supervisor owns it), or grow past `labeled`.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metrics/outcome_tally.h"

namespace ringmta::metrics {

constexpr std::size_t kDefaultLabeledDomains = 50;
constexpr std::string_view kOtherDomain = "other";

struct DomainRow {
  std::string domain;  // or "other"
  OutcomeCounts counts;
  int64_t in_progress = 0;  // taken from the queue for delivery and not yet answered
  LastReply last;           // the last deferral or failure (at == 0: none)
  Outcome last_outcome = Outcome::kDelivered;
  bool answered() const { return counts.total() > 0; }
};

class DomainTable {
 public:
  explicit DomainTable(std::size_t labeled = kDefaultLabeledDomains);

  // One batch of outcomes (e.g. everything the shards handed over since the last call).
  void add(const std::vector<const DomainDelta*>& batch);
  // The labeled domains by volume (largest first), then "other" (always present).
  std::vector<DomainRow> rows() const;
  std::size_t labeled() const { return rows_.size(); }

 private:
  std::size_t max_labeled_;
  std::unordered_map<std::string, DomainRow> rows_;
  DomainRow other_;
};

}  // namespace ringmta::metrics
