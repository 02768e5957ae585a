// Terminal progress for sync, apply, verify and restore (docs/progress.md): what a command
// shows while it works, and when.
//
//  - kTerminal (stderr is a terminal): a bar or the streaming line, redrawn in place four
//    times a second through a LiveLine (common/live_line.h), so the log lines and events
//    printed meanwhile stay whole, each on its own line, with the bar under them.
//  - kPlain (stderr is a file or a pipe): one plain line every 5 s — no \r, no escapes,
//    no bar, prefixed with the command ("keyferry sync: snapshot 52%  ...").
//  - kQuiet (--quiet): nothing; the command prints only its result.
//
// ProgressTicker is the pure part (what to print at a time, given a sample; tested with a
// fake clock); TerminalProgress runs it on a thread of its own against a sampling function.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/live_line.h"
#include "observe/progress_bar.h"

namespace kf::observe {

enum class ProgressMode { kTerminal, kPlain, kQuiet };

// kTerminal when stderr is a terminal, else kPlain; kQuiet when `quiet`.
ProgressMode ChooseProgressMode(bool quiet);

// What a command is doing now, as its sampling function sees it. The rates are not part of
// it: the ticker measures them (the bar's `done`, the stream's `applied`) over its window.
struct ProgressSample {
  enum class Kind { kNothing, kBar, kStream };
  Kind kind = Kind::kNothing;
  BarView bar;
  StreamView stream;
};

class ProgressTicker {
 public:
  explicit ProgressTicker(ProgressMode mode, int64_t plain_every_ms = 5000,
                          int64_t rate_window_ms = 5000);
  // The line to print at `now_ms`, or nullopt. Terminal: every call that has something to
  // show, fitted to `width`. Plain: the first line plain_every_ms after the first call, then
  // one every plain_every_ms, without a bar (width ignored). A change of what is shown
  // (another label, bar to stream) restarts the rate's window.
  std::optional<std::string> Tick(int64_t now_ms, ProgressSample sample, int width);

 private:
  ProgressMode mode_;
  int64_t plain_every_ms_;
  RateMeter meter_;
  std::string shown_key_;
  int64_t next_plain_ms_ = -1;
};

class TerminalProgress {
 public:
  struct Options {
    ProgressMode mode = ProgressMode::kPlain;
    std::string plain_prefix;  // "keyferry sync: "
    int64_t redraw_every_ms = 250;
    int64_t plain_every_ms = 5000;
  };
  // `sample` is called on the progress thread; it must be safe against the worker.
  TerminalProgress(Options options, std::function<ProgressSample()> sample);
  ~TerminalProgress();  // Stop()
  TerminalProgress(const TerminalProgress&) = delete;
  TerminalProgress& operator=(const TerminalProgress&) = delete;

  // Starts the thread (nothing in kQuiet); in kTerminal the live line becomes the
  // process's active one (log lines go through it).
  void Start();
  // Stops the thread and removes the bar from the screen; idempotent.
  void Stop();
  // Around a question asked on the terminal: the bar is cleared and not drawn meanwhile.
  void Hold() { live_.Hold(); }
  void Release() { live_.Release(); }

 private:
  void Loop();

  Options options_;
  std::function<ProgressSample()> sample_;
  LiveLine live_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool active_ = false;
  std::thread thread_;
};

}  // namespace kf::observe
