// Exposition: a writer of the Prometheus text exposition format 0.0.4. Every family gets its
// `# HELP` and `# TYPE` lines before its samples; label values and help text are escaped;
// histograms are written as cumulative _bucket{le="..."} series ending with +Inf, then _sum and
// _count.
// It may not: know which metrics ringmta has (prometheus_text.cc does), or validate names at run
// time beyond what the format needs (names are compile-time constants).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "metrics/histogram.h"

namespace ringmta::metrics {

using Label = std::pair<std::string_view, std::string_view>;
using Labels = std::initializer_list<Label>;

class Exposition {
 public:
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  // type: "counter", "gauge" or "histogram".
  void family(std::string_view name, std::string_view help, std::string_view type);
  void sample(std::string_view name, Labels labels, uint64_t value);
  void sample(std::string_view name, Labels labels, double value);
  void histogram(std::string_view name, Labels labels, const HistogramSnapshot& h);

  const std::string& text() const { return out_; }

  static std::string escape_label_value(std::string_view v);
  static std::string escape_help(std::string_view v);
  static std::string format_double(double v);

 private:
  void write_labels(Labels labels, const Label* extra = nullptr);
  std::string out_;
};

}  // namespace ringmta::metrics
