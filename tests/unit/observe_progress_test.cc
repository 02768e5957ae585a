// Tests of terminal progress (docs/progress.md): the bar and streaming line fitted to fake
// terminal widths, the number formats, the moving-window rate on a fake clock, the ticker's
// schedule, and the live line on a fake terminal with events printed between bar updates.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cctype>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/live_line.h"
#include "common/log.h"
#include "observe/progress_bar.h"
#include "observe/terminal_progress.h"

namespace kf::observe {
namespace {

BarView Snapshot() {
  BarView v;
  v.label = "snapshot";
  v.done = 1'200'000;
  v.total = 2'300'000;
  v.estimate = true;
  v.rate = 310'000;
  return v;
}

bool Contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

TEST(ProgressBar, FullLineAtWideTerminals) {
  for (int width : {120, 80}) {
    SCOPED_TRACE(width);
    std::string line = RenderBar(Snapshot(), width);
    EXPECT_LE(static_cast<int>(line.size()), width);
    EXPECT_TRUE(line.starts_with("snapshot [")) << line;
    EXPECT_TRUE(Contains(line, "] 52%  1.2M/~2.3M keys  310k keys/s  ETA 4s")) << line;
  }
  // At 120 the bar is at its widest (40), at 80 it takes what is left.
  EXPECT_EQ(RenderBar(Snapshot(), 120),
            "snapshot [====================>                   ] 52%  1.2M/~2.3M keys  "
            "310k keys/s  ETA 4s");
  EXPECT_EQ(RenderBar(Snapshot(), 80).size(), 80u);
}

TEST(ProgressBar, NarrowTerminalsDropEtaThenRateThenBar) {
  // 60: the ETA goes first, the rate stays, the bar stays.
  std::string at60 = RenderBar(Snapshot(), 60);
  EXPECT_LE(at60.size(), 60u);
  EXPECT_FALSE(Contains(at60, "ETA")) << at60;
  EXPECT_TRUE(Contains(at60, "310k keys/s")) << at60;
  EXPECT_TRUE(Contains(at60, "[")) << at60;
  // 40: no room for a bar of 10 next to the counts.
  std::string at40 = RenderBar(Snapshot(), 40);
  EXPECT_EQ(at40, "snapshot 52%  1.2M/~2.3M keys");
  // 20: the label and the percentage.
  EXPECT_EQ(RenderBar(Snapshot(), 20), "snapshot 52%");
  // Under 20: the label is cut, the percentage stays; at the very least the line fits.
  EXPECT_EQ(RenderBar(Snapshot(), 10), "snapsh 52%");
  EXPECT_EQ(RenderBar(Snapshot(), 3), "52%");
  for (int width = 0; width <= 130; ++width) {
    std::string line = RenderBar(Snapshot(), width);
    EXPECT_LE(static_cast<int>(line.size()), std::max(width, 1)) << width << ": " << line;
    EXPECT_FALSE(line.empty()) << width;
  }
}

TEST(ProgressBar, LongLabelIsCutNotTheWidth) {
  BarView v = Snapshot();
  v.label = "a-very-long-label-that-names-too-much";
  for (int width : {120, 80, 40, 20, 12}) {
    std::string line = RenderBar(v, width);
    EXPECT_LE(static_cast<int>(line.size()), width) << line;
    EXPECT_TRUE(Contains(line, "52%")) << width << ": " << line;
  }
}

TEST(ProgressBar, UnknownTotalShowsCountAndRateOnly) {
  BarView v = Snapshot();
  v.total = 0;
  EXPECT_EQ(RenderBar(v, 80), "snapshot  1.2M keys  310k keys/s");
  v.rate = -1;  // no rate measured yet
  EXPECT_EQ(RenderBar(v, 80), "snapshot  1.2M keys");
  EXPECT_EQ(RenderBar(v, 16), "snaps  1.2M keys");  // the label is cut, the count stays
  EXPECT_EQ(RenderBar(v, 12), "1.2M keys");
}

TEST(ProgressBar, EstimatePassedStaysAt99) {
  BarView v = Snapshot();
  v.done = 2'400'000;  // past the source's count read before the snapshot
  std::string line = RenderBar(v, 120);
  EXPECT_TRUE(Contains(line, "] 99%  2.4M/~2.3M keys  310k keys/s")) << line;
  EXPECT_FALSE(Contains(line, "ETA")) << line;
  EXPECT_TRUE(Contains(line, ">")) << line;  // not drawn full
  // An exact total reached is 100% and a full bar.
  v.estimate = false;
  v.done = v.total;
  line = RenderBar(v, 80);
  EXPECT_TRUE(Contains(line, "] 100%  2.3M/2.3M keys")) << line;
  EXPECT_FALSE(Contains(line, ">")) << line;
}

TEST(ProgressBar, BytesAndNote) {
  BarView v;
  v.label = "restore";
  v.unit = ProgressUnit::kBytes;
  v.done = 3 * 1024 * 1024;
  v.total = 12 * 1024 * 1024;
  v.rate = 1.5 * 1024 * 1024;
  v.note = "40k keys";
  EXPECT_TRUE(RenderBar(v, 120).ends_with("] 25%  3.0 MiB/12.0 MiB  40k keys  1.5 MiB/s  ETA 6s"))
      << RenderBar(v, 120);
  v.draw_bar = false;  // plain lines
  EXPECT_EQ(RenderBar(v, 400), "restore 25%  3.0 MiB/12.0 MiB  40k keys  1.5 MiB/s  ETA 6s");
}

TEST(ProgressBar, EtaFormats) {
  EXPECT_EQ(FormatEta(0), "0s");
  EXPECT_EQ(FormatEta(3.2), "4s");
  EXPECT_EQ(FormatEta(59), "59s");
  EXPECT_EQ(FormatEta(60), "1m00s");
  EXPECT_EQ(FormatEta(125), "2m05s");
  EXPECT_EQ(FormatEta(3599), "59m59s");
  EXPECT_EQ(FormatEta(3600), "1h00m");
  EXPECT_EQ(FormatEta(3720), "1h02m");
  EXPECT_EQ(FormatEta(99 * 3600 + 59 * 60), "99h59m");
  EXPECT_EQ(FormatEta(100 * 3600), ">99h");
  EXPECT_EQ(FormatEta(-1), "?");
  // In a bar: minutes and hours.
  BarView v = Snapshot();
  v.rate = 1000;  // 1.1M keys left at 1k/s: 1100 s
  EXPECT_TRUE(RenderBar(v, 120).ends_with("ETA 18m20s")) << RenderBar(v, 120);
  v.rate = 100;
  EXPECT_TRUE(RenderBar(v, 120).ends_with("ETA 3h03m")) << RenderBar(v, 120);
}

TEST(ProgressBar, NumberFormats) {
  EXPECT_EQ(FormatCount(0), "0");
  EXPECT_EQ(FormatCount(999), "999");
  EXPECT_EQ(FormatCount(1000), "1.0k");
  EXPECT_EQ(FormatCount(1234), "1.2k");
  EXPECT_EQ(FormatCount(12'345), "12k");
  EXPECT_EQ(FormatCount(310'000), "310k");
  EXPECT_EQ(FormatCount(999'600), "1.0M");
  EXPECT_EQ(FormatCount(2'300'000), "2.3M");
  EXPECT_EQ(FormatCount(45'000'000), "45M");
  EXPECT_EQ(FormatCount(1'200'000'000), "1.2G");
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1229), "1.2 KiB");
  EXPECT_EQ(FormatBytes(12.3 * 1024 * 1024), "12.3 MiB");
  EXPECT_EQ(FormatGrouped(0), "0");
  EXPECT_EQ(FormatGrouped(999), "999");
  EXPECT_EQ(FormatGrouped(1000), "1,000");
  EXPECT_EQ(FormatGrouped(123'456), "123,456");
  EXPECT_EQ(FormatGrouped(1'234'567), "1,234,567");
}

TEST(StreamLine, FitsAndDropsAppliedThenRate) {
  StreamView v;
  v.lag_bytes = 1229;
  v.lag_ms = 20;
  v.rate = 3100;
  v.applied = 123'456;
  EXPECT_EQ(RenderStream(v, 120), "streaming  lag 1.2 KiB / 0.02 s  3.1k cmds/s  applied 123,456");
  EXPECT_EQ(RenderStream(v, 50), "streaming  lag 1.2 KiB / 0.02 s  3.1k cmds/s");
  EXPECT_EQ(RenderStream(v, 40), "streaming  lag 1.2 KiB / 0.02 s");
  EXPECT_EQ(RenderStream(v, 20), "streaming  lag 1.2 K");
  v.lag_bytes = -1;
  v.lag_ms = -1;
  v.rate = -1;
  EXPECT_EQ(RenderStream(v, 80), "streaming  lag ?  applied 123,456");
  for (int width = 0; width <= 90; ++width) {
    EXPECT_LE(static_cast<int>(RenderStream(v, width).size()), std::max(width, 1));
  }
}

TEST(RateMeter, MovingWindowOnAFakeClock) {
  RateMeter meter(5000);
  EXPECT_LT(meter.Rate(), 0);
  meter.Add(0, 0);
  EXPECT_LT(meter.Rate(), 0);  // one sample
  meter.Add(100, 10);
  EXPECT_LT(meter.Rate(), 0);  // under 200 ms apart: no rate yet
  // 100 per second for 10 s.
  uint64_t value = 10;
  int64_t now = 100;
  for (int i = 0; i < 10; ++i) {
    now += 1000;
    value += 100;
    meter.Add(now, value);
  }
  EXPECT_DOUBLE_EQ(meter.Rate(), 100);
  EXPECT_DOUBLE_EQ(meter.EtaSeconds(value + 250), 2.5);
  // Then 1000 per second: after a full window only the new rate counts.
  for (int i = 0; i < 5; ++i) {
    now += 1000;
    value += 1000;
    meter.Add(now, value);
    if (i < 4) {
      EXPECT_GT(meter.Rate(), 100);
      EXPECT_LT(meter.Rate(), 1000);
    }
  }
  EXPECT_DOUBLE_EQ(meter.Rate(), 1000);
  // Past the total, or no progress: no ETA.
  EXPECT_LT(meter.EtaSeconds(value), 0);
  for (int i = 0; i < 6; ++i) meter.Add(now += 1000, value);
  EXPECT_DOUBLE_EQ(meter.Rate(), 0);
  EXPECT_LT(meter.EtaSeconds(value + 1), 0);
  // A counter going back (a new snapshot) restarts the window.
  meter.Add(now += 1000, 5);
  EXPECT_LT(meter.Rate(), 0);
  meter.Add(now += 1000, 505);
  EXPECT_DOUBLE_EQ(meter.Rate(), 500);
}

ProgressSample BarSample(uint64_t done) {
  ProgressSample s;
  s.kind = ProgressSample::Kind::kBar;
  s.bar = Snapshot();
  s.bar.rate = -1;
  s.bar.done = done;
  return s;
}

TEST(ProgressTicker, PlainLinesEveryFiveSecondsWithoutEscapes) {
  ProgressTicker ticker(ProgressMode::kPlain, 5000);
  std::vector<std::pair<int64_t, std::string>> printed;
  for (int64_t t = 0; t <= 16000; t += 1000) {
    auto line = ticker.Tick(t, BarSample(static_cast<uint64_t>(t) * 100), 80);
    if (line) printed.emplace_back(t, *line);
  }
  ASSERT_EQ(printed.size(), 3u);
  EXPECT_EQ(printed[0].first, 5000);
  EXPECT_EQ(printed[1].first, 10000);
  EXPECT_EQ(printed[2].first, 15000);
  for (const auto& [t, line] : printed) {
    EXPECT_EQ(line.find('\r'), std::string::npos);
    EXPECT_EQ(line.find('\033'), std::string::npos);
    EXPECT_EQ(line.find('['), std::string::npos) << line;  // no bar in a plain line
  }
  // The rate is measured by the ticker: 100 keys per ms = 100k keys/s.
  EXPECT_EQ(printed[0].second, "snapshot 21%  500k/~2.3M keys  100k keys/s  ETA 18s");
}

TEST(ProgressTicker, TerminalRedrawsEachTickFittedAndQuietNever) {
  ProgressTicker ticker(ProgressMode::kTerminal);
  for (int64_t t = 0; t <= 2000; t += 250) {
    auto line = ticker.Tick(t, BarSample(static_cast<uint64_t>(t) * 100), 40);
    ASSERT_TRUE(line.has_value());
    EXPECT_LE(line->size(), 40u);
  }
  ProgressSample nothing;
  EXPECT_FALSE(ticker.Tick(2250, nothing, 40).has_value());
  ProgressTicker quiet(ProgressMode::kQuiet);
  for (int64_t t = 0; t <= 20000; t += 1000) {
    EXPECT_FALSE(quiet.Tick(t, BarSample(1), 80).has_value());
  }
}

// A terminal of `width` columns that interprets what the live line writes: \r moves to
// column 0, ESC[K erases to the end of the line, \n starts a new line, a character at the
// last column wraps, a colour is skipped. Any other escape fails the test.
class FakeTerminal {
 public:
  explicit FakeTerminal(size_t width) : width_(width), lines_(1) {}
  void Write(std::string_view bytes) {
    for (size_t i = 0; i < bytes.size(); ++i) {
      char c = bytes[i];
      if (c == '\r') {
        col_ = 0;
      } else if (c == '\n') {
        lines_.emplace_back();
        col_ = 0;
      } else if (c == '\033' && bytes.substr(i, 3) == "\033[K") {
        lines_.back().resize(std::min(lines_.back().size(), col_));
        i += 2;
      } else if (c == '\033') {
        // A colour (ESC [ digits ; ... m: the log's level on a terminal) moves nothing.
        size_t end = i + 2;
        while (end < bytes.size() &&
               (std::isdigit(static_cast<unsigned char>(bytes[end])) || bytes[end] == ';')) {
          ++end;
        }
        ASSERT_TRUE(i + 1 < bytes.size() && bytes[i + 1] == '[' && end < bytes.size() &&
                    bytes[end] == 'm')
            << "unexpected escape";
        i = end;
      } else {
        if (col_ == width_) {  // wraps
          lines_.emplace_back();
          col_ = 0;
          ++wraps_;
        }
        std::string& line = lines_.back();
        if (line.size() <= col_) line.resize(col_ + 1, ' ');
        line[col_++] = c;
      }
    }
  }
  const std::vector<std::string>& lines() const { return lines_; }
  int wraps() const { return wraps_; }

 private:
  size_t width_;
  size_t col_ = 0;
  int wraps_ = 0;
  std::vector<std::string> lines_;
};

TEST(LiveLine, EventsBetweenBarUpdatesStayWholeAndTheBarStaysLast) {
  constexpr int kWidth = 60;
  FakeTerminal term(kWidth);
  LiveLine live([&term](std::string_view bytes) { term.Write(bytes); });
  std::vector<std::string> events;
  std::string last_bar;
  for (int i = 0; i <= 40; ++i) {
    BarView v = Snapshot();
    v.done = static_cast<uint64_t>(i) * 50'000;
    last_bar = RenderBar(v, kWidth - 1);
    live.Show(last_bar);
    if (i % 3 == 0) {
      events.push_back("keyferry: event " + std::to_string(i) + " happened here");
      live.Print(events.back());
    }
    if (i % 7 == 0) {
      events.push_back("keyferry: two lines " + std::to_string(i) + "\nsecond line\n");
      live.Print(events.back());
    }
  }
  // Every event line is a whole line of the screen, in order; the bar is the last line.
  std::vector<std::string> expected;
  for (const auto& e : events) {
    std::string rest = e;
    if (!rest.empty() && rest.back() == '\n') rest.pop_back();
    size_t nl;
    while ((nl = rest.find('\n')) != std::string::npos) {
      expected.push_back(rest.substr(0, nl));
      rest = rest.substr(nl + 1);
    }
    expected.push_back(rest);
  }
  const auto& lines = term.lines();
  ASSERT_EQ(lines.size(), expected.size() + 1);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(lines[i], expected[i]) << i;
  EXPECT_EQ(lines.back(), last_bar);
  EXPECT_EQ(term.wraps(), 0);
  // Cleared at the end: nothing of the bar is left.
  live.Clear();
  EXPECT_EQ(term.lines().back(), "");
  // Held (a question): the bar is removed and not drawn by Show until released.
  live.Show("bar 1");
  live.Hold();
  live.Show("bar 2");
  EXPECT_EQ(term.lines().back(), "");
  live.Release();
  EXPECT_EQ(term.lines().back(), "bar 2");
}

// The same from two threads, as in the program: the progress thread redraws the bar while
// the worker logs through spdlog (common/log routes it through the active live line).
TEST(LiveLine, LogLinesFromAnotherThreadThroughTheActiveLine) {
  constexpr int kWidth = 80;
  FakeTerminal term(kWidth);
  std::mutex term_mu;  // the test's own check that writes never overlap
  std::atomic<int> writers{0};
  std::atomic<bool> overlapped{false};
  LiveLine live([&](std::string_view bytes) {
    if (writers.fetch_add(1) != 0) overlapped = true;
    {
      std::lock_guard lock(term_mu);
      term.Write(bytes);
    }
    writers.fetch_sub(1);
  });
  SetUpLogging("info");
  SetActiveLiveLine(&live);
  std::atomic<bool> done{false};
  std::string last_bar;
  std::thread drawer([&] {
    for (int i = 0; i < 300 && !done; ++i) {
      BarView v = Snapshot();
      v.done = static_cast<uint64_t>(i) * 7'000;
      std::string bar = RenderBar(v, kWidth - 1);
      live.Show(bar);
      last_bar = bar;
    }
  });
  for (int i = 0; i < 100; ++i) spdlog::info("log line number {} from the worker", i);
  PrintStderrLine("keyferry sync: an event printed by the command");
  done = true;
  drawer.join();
  SetActiveLiveLine(nullptr);
  SetUpLogging("warn");
  EXPECT_FALSE(overlapped.load());
  const auto& lines = term.lines();
  // Every log line is one whole line ending with its message; no bar text is glued to it.
  int seen = 0;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.find("log line number") != std::string::npos) {
      EXPECT_TRUE(line.ends_with("log line number " + std::to_string(seen) + " from the worker"))
          << line;
      EXPECT_EQ(line.find("snapshot ["), std::string::npos) << line;
      ++seen;
    } else {
      EXPECT_EQ(line, "keyferry sync: an event printed by the command");
    }
  }
  EXPECT_EQ(seen, 100);
  EXPECT_EQ(lines.back(), last_bar);
  EXPECT_EQ(term.wraps(), 0);
}

}  // namespace
}  // namespace kf::observe
