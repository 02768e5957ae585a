// Terminal progress, the pure part: one line of text for a progress bar or for the live
// streaming line, fitted to a terminal width, and the smoothed rate an ETA is computed from
// (docs/progress.md). No IO and no clock of its own: the caller passes the time, so all of
// it is tested with a fake clock and a fake width.
//
//   snapshot [=========>          ] 52%  1.2M/~2.3M keys  310k keys/s  ETA 4s
//   streaming  lag 1.2 KiB / 0.02 s  3.1k cmds/s  applied 123,456
//
// A rendered line is ASCII only (its length in bytes is its width in columns) and never
// longer than the width given: at narrow widths the bar shrinks, then the ETA, the rate and
// the bar are dropped in that order, then the label is cut; below every part's minimum the
// line is cut at the width.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <utility>

namespace kf::observe {

enum class ProgressUnit { kCount, kBytes };

// What a bar shows. total 0 means unknown: then there is no bar, percentage or ETA, only
// the count and the rate. A total that is an estimate is written with "~"; once done passes
// it the bar stays at 99% (the end is not known until the producer says so).
struct BarView {
  std::string label;  // "snapshot", "verify", "restore"
  uint64_t done = 0;
  uint64_t total = 0;  // 0: unknown
  bool estimate = false;
  ProgressUnit unit = ProgressUnit::kCount;
  std::string noun = "keys";  // after counts and in the rate ("keys/s"); unused for bytes
  double rate = -1;           // per second; < 0 unknown
  std::string note;           // optional text after the counts ("round 2/3  differing 4")
  bool draw_bar = true;       // false for plain (non-terminal) lines: no [====] part
};

// The streaming line after the snapshot.
struct StreamView {
  std::string label = "streaming";
  int64_t lag_bytes = -1;  // < 0: unknown
  int64_t lag_ms = -1;     // < 0: unknown
  double rate = -1;        // commands per second; < 0 unknown
  uint64_t applied = 0;    // commands applied so far
};

// The rendered line, at most `width` columns (a width below 1 counts as 1).
std::string RenderBar(const BarView& view, int width);
std::string RenderStream(const StreamView& view, int width);

// Seconds as an ETA: "4s", "59s", "2m05s", "1h02m", ">99h".
std::string FormatEta(double seconds);
// A count in 3-4 columns: "999", "1.2k", "12k", "310k", "1.2M", "45M", "1.2G".
std::string FormatCount(uint64_t n);
// Bytes with a binary unit: "512 B", "1.2 KiB", "12.3 MiB".
std::string FormatBytes(double bytes);
// A count with thousands separators: "123,456".
std::string FormatGrouped(uint64_t n);

// A smoothed rate: the change of a counter over a moving window of the last `window_ms`
// (the oldest sample kept is the newest one at least window_ms old, so the window always
// spans the whole time asked for once that much has passed). Samples are (time, value)
// with non-decreasing time; a counter that goes back (a new snapshot) restarts the window.
class RateMeter {
 public:
  explicit RateMeter(int64_t window_ms = 5000) : window_ms_(window_ms) {}
  void Add(int64_t now_ms, uint64_t value);
  // Per second over the window; < 0 until two samples at least 200 ms apart exist.
  double Rate() const;
  // Seconds until `total` at the current rate; < 0 when unknown (no rate, zero rate, or
  // the counter already at or past the total).
  double EtaSeconds(uint64_t total) const;
  void Reset() { samples_.clear(); }

 private:
  int64_t window_ms_;
  std::deque<std::pair<int64_t, uint64_t>> samples_;
};

}  // namespace kf::observe
