// Running the cutover hook with a timeout and captured output.
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

Result<HookResult> RunCutoverHook(const std::string& command, std::chrono::seconds timeout) {
  HookResult result;
  result.command = command;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return MakeError(ControlErrc::kHookFailed, std::string("pipe: ") + std::strerror(errno));
  }
  auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid < 0) {
    return MakeError(ControlErrc::kHookFailed, std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
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
        } else if (result.output.size() < 4096) {
          result.output.append(buf, static_cast<size_t>(n));
        }
      }
    } else {
      ::usleep(5000);
    }
    if (::waitpid(pid, &status, WNOHANG) == pid) exited = true;
  }
  if (open) {  // what the hook wrote just before it exited
    ::fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    char buf[4096];
    ssize_t n;
    while (result.output.size() < 4096 && (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0) {
      result.output.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(pipe_fds[0]);
  if (result.output.size() > 4096) result.output.resize(4096);
  result.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
  if (!result.timed_out)
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace kf::control
