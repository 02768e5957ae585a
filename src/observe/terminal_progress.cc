// The progress ticker's schedule and the thread that draws its lines.
#include "observe/terminal_progress.h"

#include <unistd.h>

#include <chrono>

namespace kf::observe {
namespace {

int64_t SteadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A wide width for plain lines: nothing is dropped from them.
constexpr int kPlainWidth = 400;

}  // namespace

ProgressMode ChooseProgressMode(bool quiet) {
  if (quiet) return ProgressMode::kQuiet;
  return IsTerminal(STDERR_FILENO) ? ProgressMode::kTerminal : ProgressMode::kPlain;
}

ProgressTicker::ProgressTicker(ProgressMode mode, int64_t plain_every_ms, int64_t rate_window_ms)
    : mode_(mode), plain_every_ms_(plain_every_ms), meter_(rate_window_ms) {}

std::optional<std::string> ProgressTicker::Tick(int64_t now_ms, ProgressSample sample, int width) {
  if (mode_ == ProgressMode::kQuiet) return std::nullopt;
  if (next_plain_ms_ < 0) next_plain_ms_ = now_ms + plain_every_ms_;
  if (sample.kind == ProgressSample::Kind::kNothing) {
    shown_key_.clear();
    meter_.Reset();
    return std::nullopt;
  }
  const bool bar = sample.kind == ProgressSample::Kind::kBar;
  std::string key = (bar ? "bar:" : "stream:") + (bar ? sample.bar.label : sample.stream.label);
  if (key != shown_key_) {
    meter_.Reset();
    shown_key_ = std::move(key);
  }
  meter_.Add(now_ms, bar ? sample.bar.done : sample.stream.applied);
  if (mode_ == ProgressMode::kPlain) {
    if (now_ms < next_plain_ms_) return std::nullopt;
    next_plain_ms_ = now_ms + plain_every_ms_;
    width = kPlainWidth;
    sample.bar.draw_bar = false;
  }
  if (bar) {
    sample.bar.rate = meter_.Rate();
    return RenderBar(sample.bar, width);
  }
  sample.stream.rate = meter_.Rate();
  return RenderStream(sample.stream, width);
}

TerminalProgress::TerminalProgress(Options options, std::function<ProgressSample()> sample)
    : options_(std::move(options)), sample_(std::move(sample)) {}

TerminalProgress::~TerminalProgress() { Stop(); }

void TerminalProgress::Start() {
  if (options_.mode == ProgressMode::kQuiet || thread_.joinable()) return;
  if (options_.mode == ProgressMode::kTerminal) {
    SetActiveLiveLine(&live_);
    active_ = true;
  }
  thread_ = std::thread([this] { Loop(); });
}

void TerminalProgress::Stop() {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  if (active_) {
    SetActiveLiveLine(nullptr);
    live_.Clear();
    active_ = false;
  }
}

void TerminalProgress::Loop() {
  ProgressTicker ticker(options_.mode, options_.plain_every_ms);
  const int64_t every = options_.mode == ProgressMode::kTerminal ? options_.redraw_every_ms : 1000;
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::milliseconds(every), [this] { return stopping_; })) {
    lock.unlock();
    const int width = options_.mode == ProgressMode::kTerminal ? TerminalWidth(STDERR_FILENO) : 0;
    // One column short of the width: a line that fills the last column makes some
    // terminals wrap, and a wrapped line cannot be cleared with \r.
    ProgressSample sample = sample_();
    const bool nothing = sample.kind == ProgressSample::Kind::kNothing;
    auto line = ticker.Tick(SteadyMillis(), std::move(sample), width - 1);
    if (nothing && options_.mode == ProgressMode::kTerminal) {
      live_.Clear();  // the work shown ended (apply between phases): no stale bar
    } else if (line && options_.mode == ProgressMode::kTerminal) {
      live_.Show(std::move(*line));
    } else if (line) {
      PrintStderrLine(options_.plain_prefix + *line);
    }
    lock.lock();
  }
}

}  // namespace kf::observe
