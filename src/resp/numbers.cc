// Strict decimal parsing for RESP: see numbers.h. Written by hand (not strtoll) so a line
// need not be NUL-terminated and nothing depends on the locale.
#include "resp/numbers.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace kf::resp {

IntParse ParseInt64(std::string_view s, int64_t* out) {
  size_t i = 0;
  bool negative = false;
  if (!s.empty() && s[0] == '-') {
    negative = true;
    i = 1;
  }
  if (i == s.size()) return IntParse::kNotANumber;
  // Accumulate as a negative number so INT64_MIN is representable.
  int64_t v = 0;
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  bool overflow = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return IntParse::kNotANumber;
    int d = c - '0';
    if (v < (kMin + d) / 10) {
      overflow = true;  // keep scanning: a later non-digit makes it "not a number"
      continue;
    }
    v = v * 10 - d;
  }
  if (overflow) return IntParse::kOutOfRange;
  if (!negative) {
    if (v == kMin) return IntParse::kOutOfRange;
    v = -v;
  }
  *out = v;
  return IntParse::kOk;
}

bool ParseRespDouble(std::string_view s, double* out) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "inf") {
    *out = negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "nan") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;  // also refuses a second sign
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
  // Out of range (e.g. 1e999, 1e-999) is still a number: infinity or zero.
  if (ec == std::errc::result_out_of_range && ptr == s.data() + s.size()) {
    size_t e = s.find_first_of("eE");
    bool tiny = e != std::string_view::npos && e + 1 < s.size() && s[e + 1] == '-';
    v = tiny ? 0.0 : std::numeric_limits<double>::infinity();
    ec = std::errc();
  }
  if (ec != std::errc() || ptr != s.data() + s.size()) return false;
  *out = negative ? -v : v;
  return true;
}

}  // namespace kf::resp
