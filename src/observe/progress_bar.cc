// Progress lines fitted to a width, their number formats, and the moving-window rate.
#include "observe/progress_bar.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace kf::observe {
namespace {

// The bar's inner width: at least kMinBar columns or no bar at all, at most kMaxBar (a
// wider bar says nothing more and pushes the numbers away from the label).
constexpr int kMinBar = 10;
constexpr int kMaxBar = 40;

std::string Printf(const char* format, double value) {
  char buf[48];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

// The fraction the bar shows: an estimated total passed stays at 99% until the end.
double Fraction(const BarView& v) {
  if (v.total == 0) return 0;
  double f = static_cast<double>(v.done) / static_cast<double>(v.total);
  if (v.estimate) return std::min(f, 0.99);
  return std::min(f, 1.0);
}

std::string Amount(const BarView& v, double n) {
  return v.unit == ProgressUnit::kBytes ? FormatBytes(n)
                                        : FormatCount(static_cast<uint64_t>(std::max(0.0, n)));
}

std::string Counts(const BarView& v) {
  std::string out = Amount(v, static_cast<double>(v.done));
  if (v.total > 0) {
    out += "/";
    if (v.estimate) out += "~";
    out += Amount(v, static_cast<double>(v.total));
  }
  if (v.unit == ProgressUnit::kCount && !v.noun.empty()) out += " " + v.noun;
  return out;
}

std::string RateText(const BarView& v) {
  if (v.rate < 0) return "";
  if (v.unit == ProgressUnit::kBytes) return FormatBytes(v.rate) + "/s";
  return FormatCount(static_cast<uint64_t>(v.rate)) + " " + (v.noun.empty() ? "" : v.noun) + "/s";
}

std::string EtaText(const BarView& v) {
  if (v.total == 0 || v.rate <= 0 || v.done >= v.total) return "";
  return "ETA " + FormatEta(static_cast<double>(v.total - v.done) / v.rate);
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += "  ";
    out += p;
  }
  return out;
}

// `line` cut to `width` columns (ASCII: bytes are columns).
std::string Cut(std::string line, int width) {
  if (static_cast<int>(line.size()) > width) line.resize(static_cast<size_t>(width));
  return line;
}

}  // namespace

std::string FormatEta(double seconds) {
  if (!(seconds >= 0)) return "?";
  const auto s = static_cast<int64_t>(std::ceil(seconds));
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 100 * 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>((s % 3600) / 60));
  } else {
    return ">99h";
  }
  return buf;
}

std::string FormatCount(uint64_t n) {
  static const char* kUnits[] = {"", "k", "M", "G", "T", "P"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 999.5 && u < 5) {
    v /= 1000;
    ++u;
  }
  if (u == 0) return std::to_string(n);
  return Printf(v < 9.95 ? "%.1f" : "%.0f", v) + kUnits[u];
}

std::string FormatBytes(double bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (!(bytes >= 0)) bytes = 0;
  int u = 0;
  while (bytes >= 1023.95 && u < 5) {
    bytes /= 1024;
    ++u;
  }
  if (u == 0) return std::to_string(static_cast<uint64_t>(bytes)) + " B";
  return Printf("%.1f", bytes) + " " + kUnits[u];
}

std::string FormatGrouped(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string RenderBar(const BarView& v, int width) {
  width = std::max(width, 1);
  const bool known = v.total > 0;
  const double fraction = Fraction(v);
  const std::string pct = known ? std::to_string(static_cast<int>(fraction * 100)) + "%" : "";
  const std::string counts = Counts(v);
  const std::string rate = RateText(v);
  const std::string eta = EtaText(v);

  // Tries from the fullest line to the barest; the first that fits wins.
  struct Try {
    bool eta, rate, bar, note, counts;
  };
  static constexpr Try kTries[] = {
      {true, true, true, true, true},     {false, true, true, true, true},
      {false, false, true, true, true},   {false, false, false, true, true},
      {false, false, false, false, true}, {false, false, false, false, false},
  };
  for (const Try& t : kTries) {
    if (!t.counts && !known) continue;  // without a total the count is the news
    const bool bar = t.bar && known && v.draw_bar;
    std::string tail =
        Join({t.counts ? counts : "", t.note ? v.note : "", t.rate ? rate : "", t.eta ? eta : ""});
    std::string after_bar = pct.empty() ? "" : " " + pct;
    if (!tail.empty()) after_bar += "  " + tail;
    if (!bar) {
      std::string line = v.label + after_bar;
      if (static_cast<int>(line.size()) <= width) return line;
      continue;
    }
    // label + " [" + inner + "]" + after_bar
    const int fixed = static_cast<int>(v.label.size() + 3 + after_bar.size());
    const int inner = std::min(width - fixed, kMaxBar);
    if (inner < kMinBar) continue;
    const int filled = static_cast<int>(fraction * inner);
    std::string drawn;
    if (filled >= inner) {
      drawn.assign(static_cast<size_t>(inner), '=');
    } else {
      drawn.assign(static_cast<size_t>(filled), '=');
      drawn += '>';
      drawn.append(static_cast<size_t>(inner - filled - 1), ' ');
    }
    return v.label + " [" + drawn + "]" + after_bar;
  }
  // Even "label pct" is too wide: cut the label, keep the percentage (or the count).
  const std::string keep = known ? " " + pct : "  " + counts;
  const int room = width - static_cast<int>(keep.size());
  if (room >= 4) return Cut(v.label, room) + keep;
  return Cut(known ? pct : counts, width);
}

std::string RenderStream(const StreamView& v, int width) {
  width = std::max(width, 1);
  std::string lag = "lag ";
  lag += v.lag_bytes >= 0 ? FormatBytes(static_cast<double>(v.lag_bytes)) : "?";
  if (v.lag_ms >= 0) lag += " / " + Printf("%.2f", static_cast<double>(v.lag_ms) / 1000) + " s";
  const std::string rate =
      v.rate >= 0 ? FormatCount(static_cast<uint64_t>(v.rate)) + " cmds/s" : std::string();
  const std::string applied = "applied " + FormatGrouped(v.applied);
  for (const auto& parts :
       {std::vector<std::string>{v.label, lag, rate, applied},
        std::vector<std::string>{v.label, lag, rate}, std::vector<std::string>{v.label, lag}}) {
    std::string line = Join(parts);
    if (static_cast<int>(line.size()) <= width) return line;
  }
  return Cut(Join({v.label, lag}), width);
}

void RateMeter::Add(int64_t now_ms, uint64_t value) {
  if (!samples_.empty() && (value < samples_.back().second || now_ms < samples_.back().first)) {
    samples_.clear();
  }
  samples_.emplace_back(now_ms, value);
  // Keep the newest sample that is at least a window old as the front: the rate then spans
  // the whole window.
  while (samples_.size() >= 2 && samples_[1].first <= now_ms - window_ms_) samples_.pop_front();
}

double RateMeter::Rate() const {
  if (samples_.size() < 2) return -1;
  const auto& [t0, v0] = samples_.front();
  const auto& [t1, v1] = samples_.back();
  if (t1 - t0 < 200) return -1;
  return static_cast<double>(v1 - v0) * 1000.0 / static_cast<double>(t1 - t0);
}

double RateMeter::EtaSeconds(uint64_t total) const {
  const double rate = Rate();
  if (rate <= 0 || samples_.empty() || samples_.back().second >= total) return -1;
  return static_cast<double>(total - samples_.back().second) / rate;
}

}  // namespace kf::observe
