// CommandLoop: rounds of pipelined commands sent on one connection from a thread of its own,
// until Stop() or a time bound — the background application of the exactly-once tests.
// Each round's commands come from a function of the round number; a round is counted once
// the server answered all of it without an error reply (the first error, or a broken
// connection, ends the loop and is kept in error()).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/uri.h"

namespace kf::test {

class CommandLoop {
 public:
  using Round = std::function<std::vector<std::vector<std::string>>(uint64_t round)>;
  // Starts at once. Every 4th round is followed by a 1 ms sleep, which keeps the pace at a
  // few thousand commands per second.
  CommandLoop(net::Uri uri, Round round, std::chrono::milliseconds bound);
  ~CommandLoop();  // Stop()
  CommandLoop(const CommandLoop&) = delete;
  CommandLoop& operator=(const CommandLoop&) = delete;

  void Stop();
  uint64_t rounds() const { return rounds_.load(); }
  uint64_t commands() const { return commands_.load(); }
  std::string error() const;

 private:
  void Run();
  net::Uri uri_;
  Round round_;
  std::chrono::milliseconds bound_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> rounds_{0};
  std::atomic<uint64_t> commands_{0};
  mutable std::mutex mu_;
  std::string error_;
  std::thread thread_;
};

}  // namespace kf::test
