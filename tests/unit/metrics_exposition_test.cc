// The Prometheus text writer: escaping, number formatting, family headers, histogram series; and
// ringmta's own /metrics page: every sample belongs to a family with # HELP and # TYPE.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "metrics/exposition.h"
#include "metrics/prometheus_text.h"

namespace ringmta::metrics {
namespace {

TEST(Exposition, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(Exposition::escape_label_value(R"(a"b\c)"
                                           "\nd"),
            R"(a\"b\\c\nd)");
  EXPECT_EQ(Exposition::escape_help("x\\y\n\"z\""), "x\\\\y\\n\"z\"");
}

TEST(Exposition, FormatsDoubles) {
  EXPECT_EQ(Exposition::format_double(0.005), "0.005");
  EXPECT_EQ(Exposition::format_double(1), "1");
  EXPECT_EQ(Exposition::format_double(172800), "172800");
  EXPECT_EQ(Exposition::format_double(1.0 / 0.0), "+Inf");
  EXPECT_EQ(Exposition::format_double(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(Exposition::format_double(0.0 / 0.0), "NaN");
}

TEST(Exposition, WritesFamilyAndLabeledSamples) {
  Exposition e;
  e.family("x_total", "Things.\nMore.", "counter");
  e.sample("x_total", {{"k", "v\"1"}, {"z", "2"}}, uint64_t{7});
  e.sample("x_total", {}, 0.5);
  EXPECT_EQ(e.text(),
            "# HELP x_total Things.\\nMore.\n# TYPE x_total counter\n"
            "x_total{k=\"v\\\"1\",z=\"2\"} 7\nx_total 0.5\n");
}

TEST(Exposition, HistogramIsCumulativeWithInfSumAndCount) {
  static constexpr double kBounds[] = {0.1, 1};
  ShardHistogram a(kBounds), b(kBounds);
  a.observe_micros(50'000);     // 0.05 → le 0.1
  a.observe_micros(100'000);    // exactly 0.1 → le 0.1 (bounds are inclusive)
  b.observe_micros(500'000);    // → le 1
  b.observe_micros(2'000'000);  // → +Inf only
  HistogramSnapshot h(kBounds);
  h.add(a);
  h.add(b);
  Exposition e;
  e.family("t_seconds", "T.", "histogram");
  e.histogram("t_seconds", {{"route", "r"}}, h);
  EXPECT_EQ(e.text(),
            "# HELP t_seconds T.\n# TYPE t_seconds histogram\n"
            "t_seconds_bucket{route=\"r\",le=\"0.1\"} 2\n"
            "t_seconds_bucket{route=\"r\",le=\"1\"} 3\n"
            "t_seconds_bucket{route=\"r\",le=\"+Inf\"} 4\n"
            "t_seconds_sum{route=\"r\"} 2.65\n"
            "t_seconds_count{route=\"r\"} 4\n");
}

TEST(PrometheusText, EverySampleHasHelpAndType) {
  Snapshot s;
  s.totals.delivered = 42;
  s.suppressed = 7;
  s.routes.push_back(RouteSnapshot{.name = "smtp.example.net:587"});
  s.loop_utilisation = {0.25, 0.5};
  s.domains.push_back(DomainRow{.domain = "example.com", .counts = {3, 1, 0}});
  s.domains.push_back(DomainRow{.domain = "other", .counts = {39, 0, 0}});
  std::string text = prometheus_text(s);
  std::set<std::string> help, type;
  std::istringstream in(text);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      help.insert(line.substr(7, line.find(' ', 7) - 7));
    } else if (line.rfind("# TYPE ", 0) == 0) {
      type.insert(line.substr(7, line.find(' ', 7) - 7));
    } else {
      ++samples;
      std::string name = line.substr(0, line.find_first_of("{ "));
      std::string family = name;
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        std::string sfx(suffix);
        if (family.size() > sfx.size() && family.ends_with(sfx) &&
            type.count(family.substr(0, family.size() - sfx.size()))) {
          family = family.substr(0, family.size() - sfx.size());
        }
      }
      EXPECT_TRUE(help.count(family)) << line;
      EXPECT_TRUE(type.count(family)) << line;
    }
  }
  EXPECT_GT(samples, 50);
  EXPECT_NE(text.find("ringmta_recipients_delivered_total 42\n"), std::string::npos);
  EXPECT_NE(text.find("ringmta_shard_loop_busy_ratio{shard=\"1\"} 0.5\n"), std::string::npos);
  EXPECT_NE(
      text.find("ringmta_domain_recipients_total{domain=\"example.com\",outcome=\"deferred\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("ringmta_recipients_suppressed_total 7\n"), std::string::npos);
}

TEST(PrometheusText, AClusterNodeSaysWhetherItSharesTheLimits) {
  Snapshot s;
  EXPECT_EQ(prometheus_text(s).find("ringmta_cluster_"), std::string::npos);  // not in a cluster
  s.cluster = ClusterSnapshot{.enabled = true,
                              .node = "mta1",
                              .redis = "10.0.0.5:6379",
                              .redis_up = false,
                              .live_nodes = 3,
                              .redis_calls = 1200,
                              .tokens_leased = 9000,
                              .fallbacks = 1};
  const std::string text = prometheus_text(s);
  for (const char* line :
       {"# TYPE ringmta_cluster_redis_up gauge\n", "ringmta_cluster_redis_up{node=\"mta1\"} 0\n",
        "ringmta_cluster_nodes{node=\"mta1\"} 3\n",
        "# TYPE ringmta_cluster_redis_calls_total counter\n",
        "ringmta_cluster_redis_calls_total{node=\"mta1\"} 1200\n",
        "ringmta_cluster_tokens_leased_total{node=\"mta1\"} 9000\n",
        "ringmta_cluster_fallbacks_total{node=\"mta1\"} 1\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace ringmta::metrics
