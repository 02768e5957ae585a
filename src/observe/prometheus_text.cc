// The text exposition writer: see prometheus_text.h.
#include "observe/prometheus_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace kf::observe {
namespace {

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FamilyName(const MetricFamily& family) {
  if (family.type == MetricType::kCounter && !family.name.ends_with("_total")) {
    return family.name + "_total";
  }
  return family.name;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
  if (value == std::trunc(value) && std::fabs(value) <= kExactIntegers) {
    return std::to_string(static_cast<long long>(value));
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);  // shortest round-trip form
  return std::string(buf, ec == std::errc() ? end : buf);
}

std::string WritePrometheusText(std::span<const MetricFamily> families) {
  std::vector<const MetricFamily*> order;
  order.reserve(families.size());
  for (const auto& f : families) order.push_back(&f);
  std::stable_sort(order.begin(), order.end(), [](const MetricFamily* a, const MetricFamily* b) {
    return FamilyName(*a) < FamilyName(*b);
  });
  std::string out;
  for (const MetricFamily* family : order) {
    std::string name = FamilyName(*family);
    out += "# HELP " + name + " " + EscapeHelp(family->help) + "\n";
    out += "# TYPE " + name + (family->type == MetricType::kCounter ? " counter\n" : " gauge\n");
    for (const MetricSample& sample : family->samples) {
      out += name;
      if (!sample.labels.empty()) {
        out += '{';
        for (size_t i = 0; i < sample.labels.size(); ++i) {
          if (i > 0) out += ',';
          out += sample.labels[i].first + "=\"" + EscapeLabelValue(sample.labels[i].second) + "\"";
        }
        out += '}';
      }
      out += ' ' + FormatMetricValue(sample.value) + '\n';
    }
  }
  return out;
}

}  // namespace kf::observe
