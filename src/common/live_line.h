// The live line: the one place that owns the bottom line of a terminal (stderr) while a
// progress bar is shown there (docs/progress.md).
//
// A bar is redrawn in place (`\r`, the text, no newline); any other line written to the
// terminal meanwhile would be glued to the bar's text or overwritten by its next redraw.
// So while a LiveLine is active, every line meant for stderr — log lines (common/log
// routes spdlog's output here) and the events the commands print — goes through Print:
// it clears the live line (`\r\033[K`), writes the line with its newline, and redraws the
// live line under it. The bar always stays last; an event line is never cut.
//
// The LiveLine writes through a function given to it (stderr's file descriptor in the
// program, a fake terminal in tests), under its own mutex: Show and Print may come from
// any thread.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace kf {

// Writes bytes to the terminal as they are (no newline added).
using TerminalWrite = std::function<void(std::string_view bytes)>;

// Writes to stderr (fd 2) and flushes.
void WriteStderr(std::string_view bytes);

class LiveLine {
 public:
  explicit LiveLine(TerminalWrite write = WriteStderr) : write_(std::move(write)) {}

  // Replaces the live line with `line` (one line, shorter than the terminal: a line that
  // wraps cannot be cleared with \r). Not drawn while held.
  void Show(std::string line);
  // Writes `text` above the live line: a whole line (a newline is added when missing), or
  // several. The live line is cleared first and drawn again after.
  void Print(std::string_view text);
  // Removes the live line from the screen and forgets it (at the end of a run).
  void Clear();
  // While held (a question asked on the terminal), the live line is cleared and not drawn
  // again; Release draws the last line shown.
  void Hold();
  void Release();

 private:
  std::mutex mu_;
  TerminalWrite write_;
  std::string shown_;
  bool drawn_ = false;
  bool held_ = false;
};

// The process's active live line (nullptr: none). Set while a bar is shown on stderr,
// unset before that LiveLine is destroyed.
void SetActiveLiveLine(LiveLine* line);

// Writes one line (a newline is added when missing) to stderr: through the active live
// line when there is one, else directly. Every line meant for the terminal while a bar may
// be shown goes through here.
void PrintStderrLine(std::string_view line);

// Whether `fd` is a terminal.
bool IsTerminal(int fd);
// The width of the terminal on `fd` in columns: ioctl(TIOCGWINSZ), else $COLUMNS, else 80.
int TerminalWidth(int fd);

}  // namespace kf
