// The live line's drawing protocol and the process-wide hook that routes stderr lines
// through it.
#include "common/live_line.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace kf {
namespace {

constexpr std::string_view kClearLine = "\r\033[K";

std::mutex g_active_mu;
LiveLine* g_active = nullptr;

}  // namespace

void WriteStderr(std::string_view bytes) {
  std::fwrite(bytes.data(), 1, bytes.size(), stderr);
  std::fflush(stderr);
}

void LiveLine::Show(std::string line) {
  std::lock_guard lock(mu_);
  shown_ = std::move(line);
  if (held_) return;
  // One write: the clear, the line; no newline (the next Show overwrites it).
  write_(std::string(kClearLine) + shown_);
  drawn_ = true;
}

void LiveLine::Print(std::string_view text) {
  std::lock_guard lock(mu_);
  std::string out;
  if (drawn_) out += kClearLine;
  out += text;
  if (out.empty() || out.back() != '\n') out += '\n';
  drawn_ = false;
  if (!held_ && !shown_.empty()) {
    out += shown_;
    drawn_ = true;
  }
  write_(out);
}

void LiveLine::Clear() {
  std::lock_guard lock(mu_);
  if (drawn_) write_(kClearLine);
  drawn_ = false;
  shown_.clear();
}

void LiveLine::Hold() {
  std::lock_guard lock(mu_);
  if (drawn_) write_(kClearLine);
  drawn_ = false;
  held_ = true;
}

void LiveLine::Release() {
  std::lock_guard lock(mu_);
  held_ = false;
  if (!shown_.empty()) {
    write_(std::string(kClearLine) + shown_);
    drawn_ = true;
  }
}

void SetActiveLiveLine(LiveLine* line) {
  std::lock_guard lock(g_active_mu);
  g_active = line;
}

void PrintStderrLine(std::string_view line) {
  // The lock is held while printing: SetActiveLiveLine(nullptr) then waits for a print in
  // flight, so the LiveLine is never used after its owner unset it.
  std::lock_guard lock(g_active_mu);
  if (g_active != nullptr) {
    g_active->Print(line);
    return;
  }
  std::string out(line);
  if (out.empty() || out.back() != '\n') out += '\n';
  WriteStderr(out);
}

bool IsTerminal(int fd) { return ::isatty(fd) != 0; }

int TerminalWidth(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    int n = std::atoi(columns);
    if (n > 0) return n;
  }
  return 80;
}

}  // namespace kf
