// process_metrics_text: the build's labels, and this process's own figures read from /proc.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "metrics/process_metrics.h"

namespace ringmta::metrics {
namespace {

double value_of(const std::string& text, const std::string& name) {
  const std::size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + name.size() + 2, nullptr);
}

TEST(ProcessMetrics, NamesTheBuildAndReadsThisProcess) {
  std::vector<char> ballast(64 << 20, 1);  // resident: touched
  const std::string text = process_metrics_text("1.2.3", "abc\"def");
  EXPECT_NE(text.find("ringmta_build_info{version=\"1.2.3\",revision=\"abc\\\"def\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_GT(value_of(text, "process_resident_memory_bytes"), 64e6) << text;
  EXPECT_GE(value_of(text, "process_virtual_memory_bytes"),
            value_of(text, "process_resident_memory_bytes"));
  EXPECT_GE(value_of(text, "process_open_fds"), 3) << text;  // stdin, stdout, stderr at least
  EXPECT_GT(value_of(text, "process_max_fds"), value_of(text, "process_open_fds"));
  EXPECT_GE(value_of(text, "process_cpu_seconds_total"), 0) << text;
  const double started = value_of(text, "process_start_time_seconds");
  EXPECT_GT(started, 1.6e9) << text;
  EXPECT_LE(started, static_cast<double>(std::time(nullptr)) + 1);
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter"), std::string::npos);
  EXPECT_EQ(ballast[12345], 1);
}

}  // namespace
}  // namespace ringmta::metrics
