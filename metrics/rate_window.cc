// RateWindow implementation.
#include "metrics/rate_window.h"

#include <algorithm>

namespace ringmta::metrics {

void RateWindow::sample(Millis now, uint64_t total) {
  if (!samples_.empty() && now - samples_.back().at < kSampleEvery) return;
  samples_.push_back({now, total});
  while (samples_.size() > kKeep) samples_.pop_front();
}

double RateWindow::rate(Millis window) const {
  if (samples_.size() < 2) return 0;
  const Sample& last = samples_.back();
  const Sample* first = &samples_.front();
  for (auto it = samples_.rbegin(); it != samples_.rend(); ++it) {
    if (last.at - it->at > window) break;
    first = &*it;
  }
  if (first->at >= last.at || last.total < first->total) return 0;
  return static_cast<double>(last.total - first->total) * 1000.0 /
         static_cast<double>(last.at - first->at);
}

std::vector<double> RateWindow::recent(std::size_t seconds) const {
  std::vector<double> out;
  if (samples_.size() < 2) return out;
  std::size_t n = std::min(seconds, samples_.size() - 1);
  for (std::size_t i = samples_.size() - n; i < samples_.size(); ++i) {
    const Sample& a = samples_[i - 1];
    const Sample& b = samples_[i];
    double grew = b.total >= a.total ? static_cast<double>(b.total - a.total) : 0;
    out.push_back(grew * 1000.0 / static_cast<double>(std::max<Millis>(1, b.at - a.at)));
  }
  return out;
}

}  // namespace ringmta::metrics
