// DomainTable implementation.
#include "metrics/domain_table.h"

#include <algorithm>

namespace ringmta::metrics {

DomainTable::DomainTable(std::size_t labeled) : max_labeled_(labeled) {
  other_.domain = kOtherDomain;
}

void DomainTable::add(const std::vector<const DomainDelta*>& batch) {
  if (rows_.size() < max_labeled_) {
    std::vector<const DomainDelta*> fresh;
    for (const DomainDelta* d : batch) {
      if (d->name != kOtherDomain && !rows_.contains(d->name)) fresh.push_back(d);
    }
    // By volume: what was answered and what was taken (a domain's first batch may have only
    // been taken; a large domain's window is large).
    const auto volume = [](const DomainDelta* d) {
      return d->counts.total() + static_cast<uint64_t>(std::max<int64_t>(0, d->in_hand));
    };
    std::sort(fresh.begin(), fresh.end(), [&volume](const DomainDelta* a, const DomainDelta* b) {
      return volume(a) != volume(b) ? volume(a) > volume(b) : a->name < b->name;
    });
    for (const DomainDelta* d : fresh) {
      if (rows_.size() >= max_labeled_) break;
      DomainRow row;
      row.domain = d->name;
      rows_.emplace(d->name, std::move(row));  // a name twice in one batch: the first wins
    }
  }
  for (const DomainDelta* d : batch) {
    auto it = rows_.find(d->name);
    DomainRow& row = it != rows_.end() ? it->second : other_;
    row.counts += d->counts;
    row.in_progress += d->in_hand;
    if (d->counts.total() > 0) row.last_outcome = d->last_outcome;
    if (d->last.at != 0) row.last = d->last;
  }
}

std::vector<DomainRow> DomainTable::rows() const {
  std::vector<DomainRow> out;
  out.reserve(rows_.size() + 1);
  for (const auto& [name, row] : rows_) out.push_back(row);
  const auto volume = [](const DomainRow& r) {
    return r.counts.total() + static_cast<uint64_t>(std::max<int64_t>(0, r.in_progress));
  };
  std::sort(out.begin(), out.end(), [&volume](const DomainRow& a, const DomainRow& b) {
    return volume(a) != volume(b) ? volume(a) > volume(b) : a.domain < b.domain;
  });
  out.push_back(other_);
  return out;
}

}  // namespace ringmta::metrics
