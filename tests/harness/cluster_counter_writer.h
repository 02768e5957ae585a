// Live writes for cluster tests: INCR ctr:N and RPUSH list:N for N in 0..kClusterCounters-1
// (keys on every shard) through the harness's cluster client, round after round, counting
// what the primaries acknowledged; and the check that a copy holds exactly those counts
// (a replayed INCR or RPUSH shows as one too many, a lost one as one too few).
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness/cluster_process.h"
#include "harness/server_process.h"
#include "net/uri.h"
#include "resp/reply.h"

namespace kf::test {

inline constexpr int kClusterCounters = 48;

// INCR ctr:N and RPUSH list:N for N in 0..47 (keys on every shard) through the cluster
// client, round after round, counting what each primary acknowledged. Bounded to 60 s.
class ClusterCounterWriter {
 public:
  explicit ClusterCounterWriter(ClusterProcess* cluster) : cluster_(cluster) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ClusterCounterWriter() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Runs `command` in the writer's thread between two rounds; waits until it ran.
  resp::Reply RunBetweenRounds(std::vector<std::string> command);
  uint64_t rounds() const { return rounds_.load(); }
  std::map<std::string, int64_t> acked() {
    std::lock_guard lock(mu_);
    return acked_;
  }
  std::string error() {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  void Run();
  ClusterProcess* cluster_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> rounds_{0};
  std::mutex mu_;
  std::map<std::string, int64_t> acked_;
  std::vector<std::string> extra_;
  resp::Reply extra_reply_;
  std::string error_;
  std::thread thread_;
};

// Every counter equals its acknowledged INCRs, every list its acknowledged RPUSHes: on a
// standalone copy, and on a cluster copy (each key read from the primary owning it).
void ExpectCountersExact(ServerProcess& target, const std::map<std::string, int64_t>& acked);
void ExpectCountersExact(ClusterProcess& target, const std::map<std::string, int64_t>& acked);
// The same through one node keyferry provisioned (no harness process): a standalone server,
// or any node of a cluster (a MOVED reply is followed once, to the node it names).
void ExpectCountersExact(const net::Uri& node, const std::map<std::string, int64_t>& acked);

}  // namespace kf::test
