// CommandLoop (command_loop.h).
#include "harness/command_loop.h"

#include "net/client.h"

namespace kf::test {

CommandLoop::CommandLoop(net::Uri uri, Round round, std::chrono::milliseconds bound)
    : uri_(std::move(uri)), round_(std::move(round)), bound_(bound) {
  thread_ = std::thread([this] { Run(); });
}

CommandLoop::~CommandLoop() { Stop(); }

void CommandLoop::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string CommandLoop::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

void CommandLoop::Run() {
  auto fail = [&](std::string what) {
    std::lock_guard lock(mu_);
    error_ = std::move(what);
  };
  net::Client c;
  if (auto r = c.Connect(uri_); !r) return fail(r.error().ToString());
  auto deadline = std::chrono::steady_clock::now() + bound_;
  for (uint64_t i = 0; !stop_ && std::chrono::steady_clock::now() < deadline; ++i) {
    auto commands = round_(i);
    auto replies = c.CallPipelined(commands);
    if (!replies) return fail(replies.error().ToString());
    for (size_t k = 0; k < replies->size(); ++k) {
      if ((*replies)[k].is_error()) {
        return fail(commands[k][0] + ": " + (*replies)[k].str());
      }
    }
    commands_ += commands.size();
    ++rounds_;
    if (i % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace kf::test
