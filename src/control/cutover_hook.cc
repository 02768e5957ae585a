// Running a program (the cutover hook, `valkey-server --version`) with a timeout, a working
// directory and captured output.
#include "control/cutover_hook.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "control/control_errc.h"

namespace kf::control {
namespace {

constexpr size_t kMaxOutput = 4096;

}  // namespace

Result<ProgramResult> RunProgram(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout,
                                 const std::string& working_dir) {
  ProgramResult result;
  for (const auto& a : argv) result.command += (result.command.empty() ? "" : " ") + a;
  if (argv.empty()) return MakeError(ControlErrc::kHookFailed, "no program to run");
  // Everything the child needs is prepared before fork (no allocation after it).
  std::vector<char*> args;
  std::vector<std::string> copy = argv;
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  std::string chdir_failed = "keyferry: cannot enter the directory " + working_dir + "\n";
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return MakeError(ControlErrc::kHookFailed, std::string("pipe: ") + std::strerror(errno));
  }
  auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return MakeError(ControlErrc::kHookFailed, std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::signal(SIGPIPE, SIG_DFL);  // apply ignores SIGPIPE; the program gets the usual default
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (!working_dir.empty() && ::chdir(working_dir.c_str()) != 0) {
      ssize_t w = ::write(2, chdir_failed.data(), chdir_failed.size());
      (void)w;
      _exit(126);
    }
    ::execvp(args[0], args.data());
    _exit(127);
  }
  ::close(pipe_fds[1]);
  auto deadline = start + timeout;
  bool open = true;
  int status = 0;
  bool exited = false;
  while (!exited) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      result.timed_out = true;
      break;
    }
    if (open) {
      pollfd p{pipe_fds[0], POLLIN, 0};
      ::poll(&p, 1, 20);
      if (p.revents & (POLLIN | POLLHUP)) {
        char buf[4096];
        ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
        if (n <= 0) {
          open = false;
        } else if (result.output.size() < kMaxOutput) {
          result.output.append(buf, static_cast<size_t>(n));
        }
      }
    } else {
      ::usleep(5000);
    }
    if (::waitpid(pid, &status, WNOHANG) == pid) exited = true;
  }
  if (open) {  // what the program wrote just before it exited
    ::fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    char buf[4096];
    ssize_t n;
    while (result.output.size() < kMaxOutput && (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0) {
      result.output.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(pipe_fds[0]);
  if (result.output.size() > kMaxOutput) result.output.resize(kMaxOutput);
  result.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
  if (!result.timed_out)
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

Result<HookResult> RunCutoverHook(const std::string& command, std::chrono::seconds timeout,
                                  const std::string& working_dir) {
  auto result = RunProgram({"/bin/sh", "-c", command}, timeout, working_dir);
  if (result) result->command = command;
  return result;
}

}  // namespace kf::control
