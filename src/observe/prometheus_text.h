// Prometheus text exposition format 0.0.4: a pure function from metric families to the text
// a scrape gets (no IO, no registry). Content type: kPrometheusContentType.
//
// The output, for each family in name order (stable whatever order the caller built them in):
//   # HELP <name> <help, with \ and newline escaped>
//   # TYPE <name> counter|gauge
//   <name>{<label>="<value, with \ " and newline escaped>",...} <value>
// one sample line per sample, in the order given. A counter's name always ends in _total
// (appended when missing, as the format's conventions ask). Values: integers up to 2^53
// without exponent or fraction, other numbers in the shortest form that reads back exactly,
// NaN, +Inf and -Inf as the format spells them. A family without samples writes its HELP and
// TYPE only.
#pragma once

#include <span>
#include <string>
#include <utility>
#include <vector>

namespace kf::observe {

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { kCounter, kGauge };

struct MetricSample {
  std::vector<std::pair<std::string, std::string>> labels;  // name, value; in this order
  double value = 0;
};

struct MetricFamily {
  std::string name;  // [a-zA-Z_:][a-zA-Z0-9_:]*
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<MetricSample> samples;
};

std::string WritePrometheusText(std::span<const MetricFamily> families);

// A sample value as the format writes it ("42", "0.25", "NaN", "+Inf", "-Inf").
std::string FormatMetricValue(double value);

// A label value with \ " and newline escaped.
std::string EscapeLabelValue(std::string_view value);

}  // namespace kf::observe
