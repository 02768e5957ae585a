// Runs a program (keyferry itself, in integration tests) as a child process with its
// output captured to files, with a bounded wait, signals and kill.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace kf::test {

class Subprocess {
 public:
  // Starts argv[0] with argv; stdout and stderr go to files in a temp dir.
  explicit Subprocess(std::vector<std::string> argv);
  ~Subprocess();  // SIGKILLs a child still running

  // Waits up to `timeout` for exit; returns the exit code, or -1 on timeout (child still
  // running), or 128+signal when killed by a signal.
  int Wait(std::chrono::milliseconds timeout);
  void Signal(int signo);
  bool running();
  // The child's peak resident set so far in KiB (VmHWM of /proc/<pid>/status: the
  // program's own, from its exec on), or -1 once it has exited or cannot be read. Read it
  // before stopping the child: a process that has exited has no VmHWM any more.
  long PeakRssKb() const;
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string dir_;
};

// The keyferry binary under test: KF_BINARY from the build, or $KEYFERRY_TEST_BINARY when set
// (to run the tests against another build, e.g. the commit before a fix).
std::string KeyferryBinary();

}  // namespace kf::test
