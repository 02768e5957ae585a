// Parsing and checking of verify options.
#include "verify/verify_options.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "verify/verify_errc.h"

namespace kf::verify {
namespace {

// A finite non-negative decimal number taking the whole of `text`.
bool ParseNumber(std::string_view text, double* out) {
  if (text.empty()) return false;
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  if (!std::isfinite(v) || v < 0) return false;
  *out = v;
  return true;
}

}  // namespace

Result<void> ParseMode(std::string_view text, VerifyOptions* options) {
  if (text == "full") {
    options->mode = VerifyMode::kFull;
    return {};
  }
  if (text == "keys") {
    options->mode = VerifyMode::kKeys;
    return {};
  }
  constexpr std::string_view kSample = "sample:";
  if (text.starts_with(kSample)) {
    std::string_view rate_text = text.substr(kSample.size());
    bool percent = rate_text.ends_with('%');
    if (percent) rate_text.remove_suffix(1);
    double rate = 0;
    if (ParseNumber(rate_text, &rate)) {
      if (percent) rate /= 100;
      if (rate > 0 && rate <= 1) {
        options->mode = VerifyMode::kSample;
        options->sample_rate = rate;
        return {};
      }
    }
    return MakeError(VerifyErrc::kBadOption,
                     "--mode " + std::string(text) +
                         ": the sample rate must be a fraction in (0, 1] such as sample:0.01, or "
                         "a percentage such as sample:5%");
  }
  return MakeError(VerifyErrc::kBadOption, "--mode " + std::string(text) +
                                               ": use full, keys or sample:RATE (e.g. "
                                               "sample:0.01)");
}

std::string ModeName(const VerifyOptions& options) {
  switch (options.mode) {
    case VerifyMode::kFull:
      return "full";
    case VerifyMode::kKeys:
      return "keys";
    case VerifyMode::kSample: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "sample:%g", options.sample_rate);
      return buf;
    }
  }
  return "full";
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  double scale = 1000;  // a bare number is seconds
  std::string_view number = text;
  if (number.ends_with("ms")) {
    scale = 1;
    number.remove_suffix(2);
  } else if (number.ends_with('s')) {
    number.remove_suffix(1);
  } else if (number.ends_with('m')) {
    scale = 60000;
    number.remove_suffix(1);
  }
  double v = 0;
  if (!ParseNumber(number, &v) || v * scale > 86400.0 * 1000) {
    return MakeError(VerifyErrc::kBadOption,
                     "duration \"" + std::string(text) +
                         "\": use a number with a unit, e.g. 500ms, 2s or 1m (at most one day)");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(v * scale)));
}

Result<void> ValidateOptions(const VerifyOptions& o) {
  auto bad = [](std::string message) { return MakeError(VerifyErrc::kBadOption, message); };
  if (o.mode == VerifyMode::kSample && !(o.sample_rate > 0 && o.sample_rate <= 1)) {
    return bad("the sample rate must be in (0, 1]");
  }
  if (o.rounds < 0) return bad("--rounds must be 0 or more");
  if (o.interval.count() < 0) return bad("--interval must not be negative");
  if (o.ttl_tolerance_ms < 0) return bad("--ttl-tolerance-ms must not be negative");
  if (o.expiry_grace_ms < 0) return bad("the expiry grace must not be negative");
  if (o.scan_batch == 0) return bad("the scan batch must be at least 1 key");
  if (o.window_elements == 0 || o.window_bytes == 0) {
    return bad("windowed reads need at least one element / byte per window");
  }
  if (o.dump_batch_bytes == 0) return bad("the DUMP byte budget must be at least 1 byte");
  for (int db : o.dbs) {
    if (db < 0) return bad("--db " + std::to_string(db) + ": database numbers are 0 or more");
  }
  return {};
}

}  // namespace kf::verify
