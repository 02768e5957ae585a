// The Prometheus text writer: HELP/TYPE lines, _total names, label escaping, value
// formatting (integers, fractions, NaN, infinities) and the stable order of families.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "observe/prometheus_text.h"

namespace kf::observe {
namespace {

TEST(ObservePrometheusText, WritesHelpTypeAndSamples) {
  std::vector<MetricFamily> families = {
      {"keyferry_keys_copied_total",
       "Keys written.",
       MetricType::kCounter,
       {{{{"shard", "s0"}}, 10}, {{{"shard", "s5461"}}, 32}}},
      {"keyferry_snapshot_progress_ratio",
       "Share of the snapshot received.",
       MetricType::kGauge,
       {{{}, 0.25}}},
  };
  EXPECT_EQ(WritePrometheusText(families),
            "# HELP keyferry_keys_copied_total Keys written.\n"
            "# TYPE keyferry_keys_copied_total counter\n"
            "keyferry_keys_copied_total{shard=\"s0\"} 10\n"
            "keyferry_keys_copied_total{shard=\"s5461\"} 32\n"
            "# HELP keyferry_snapshot_progress_ratio Share of the snapshot received.\n"
            "# TYPE keyferry_snapshot_progress_ratio gauge\n"
            "keyferry_snapshot_progress_ratio 0.25\n");
}

TEST(ObservePrometheusText, CounterNamesEndInTotal) {
  std::vector<MetricFamily> families = {
      {"keyferry_reconnects", "Link drops.", MetricType::kCounter, {{{}, 3}}},
      {"keyferry_lag_bytes", "A gauge keeps its name.", MetricType::kGauge, {{{}, 1}}},
  };
  std::string text = WritePrometheusText(families);
  EXPECT_THAT(text, ::testing::HasSubstr("# TYPE keyferry_reconnects_total counter\n"
                                         "keyferry_reconnects_total 3\n"));
  EXPECT_THAT(text,
              ::testing::HasSubstr("# TYPE keyferry_lag_bytes gauge\nkeyferry_lag_bytes 1\n"));
  EXPECT_THAT(text, ::testing::Not(::testing::HasSubstr("_total_total")));
}

TEST(ObservePrometheusText, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(EscapeLabelValue("plain: s0/127.0.0.1"), "plain: s0/127.0.0.1");
  std::vector<MetricFamily> families = {
      {"keyferry_errors_total",
       "Errors \\ by kind\nsecond line \"quoted\".",
       MetricType::kCounter,
       {{{{"kind", "say \"hi\"\n\\"}, {"shard", "s0"}}, 1}}},
  };
  EXPECT_EQ(WritePrometheusText(families),
            "# HELP keyferry_errors_total Errors \\\\ by kind\\nsecond line \"quoted\".\n"
            "# TYPE keyferry_errors_total counter\n"
            "keyferry_errors_total{kind=\"say \\\"hi\\\"\\n\\\\\",shard=\"s0\"} 1\n");
}

TEST(ObservePrometheusText, FormatsValues) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(-0.0), "0");
  EXPECT_EQ(FormatMetricValue(42), "42");
  EXPECT_EQ(FormatMetricValue(-7), "-7");
  EXPECT_EQ(FormatMetricValue(9007199254740992.0), "9007199254740992");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(1.5e300), "1.5e+300");
  EXPECT_EQ(FormatMetricValue(1714557600.123), "1714557600.123");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(ObservePrometheusText, OrderIsStableWhateverTheInputOrder) {
  MetricFamily a{"keyferry_b", "b", MetricType::kGauge, {{{}, 1}}};
  MetricFamily b{"keyferry_a", "a", MetricType::kGauge, {{{}, 2}}};
  MetricFamily c{"keyferry_c_total", "c", MetricType::kCounter, {}};
  std::vector<MetricFamily> one = {a, b, c}, two = {c, b, a};
  std::string text = WritePrometheusText(one);
  EXPECT_EQ(text, WritePrometheusText(two));
  EXPECT_LT(text.find("keyferry_a"), text.find("keyferry_b"));
  EXPECT_LT(text.find("keyferry_b"), text.find("keyferry_c_total"));
  // A family without samples still says what it is.
  EXPECT_THAT(text, ::testing::EndsWith("# HELP keyferry_c_total c\n"
                                        "# TYPE keyferry_c_total counter\n"));
  EXPECT_EQ(WritePrometheusText({}), "");
}

}  // namespace
}  // namespace kf::observe
