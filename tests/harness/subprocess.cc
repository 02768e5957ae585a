// Subprocess: fork/exec with captured output, bounded waits.
#include "harness/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness/server_process.h"

namespace kf::test {

std::string KeyferryBinary() {
  // KEYFERRY_TEST_BINARY runs the tests against another build (e.g. an older commit, to
  // show that a new test fails there).
  if (const char* other = std::getenv("KEYFERRY_TEST_BINARY"); other != nullptr && *other) {
    return other;
  }
#ifdef KF_BINARY
  return KF_BINARY;
#else
  return "keyferry";
#endif
}

Subprocess::Subprocess(std::vector<std::string> argv) {
  dir_ = MakeTempDir("kf-proc-");
  std::string out = dir_ + "/stdout", err = dir_ + "/stderr";
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && exit_code_ < 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  RemoveTree(dir_);
}

int Subprocess::Wait(std::chrono::milliseconds timeout) {
  if (exit_code_ >= 0) return exit_code_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void Subprocess::Signal(int signo) {
  if (pid_ > 0 && exit_code_ < 0) ::kill(pid_, signo);
}

bool Subprocess::running() { return Wait(std::chrono::milliseconds(0)) < 0; }

long Subprocess::PeakRssKb() const {
  if (pid_ <= 0 || exit_code_ >= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::string Subprocess::Stdout() const {
  std::ifstream in(dir_ + "/stdout");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Subprocess::Stderr() const {
  std::ifstream in(dir_ + "/stderr");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace kf::test
