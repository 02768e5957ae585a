// ClusterCounterWriter and the exact-count checks (cluster_counter_writer.h).
#include "harness/cluster_counter_writer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>

#include "net/client.h"

namespace kf::test {

using std::chrono::milliseconds;
using std::chrono::seconds;

resp::Reply ClusterCounterWriter::RunBetweenRounds(std::vector<std::string> command) {
  {
    std::lock_guard lock(mu_);
    extra_ = std::move(command);
  }
  for (int i = 0; i < 500; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
    std::lock_guard lock(mu_);
    if (extra_.empty()) return extra_reply_;
  }
  ADD_FAILURE() << "the writer did not run the command within 5 s";
  return {};
}

void ClusterCounterWriter::Run() {
  auto deadline = std::chrono::steady_clock::now() + seconds(60);
  for (uint64_t round = 0; !stop_ && std::chrono::steady_clock::now() < deadline; ++round) {
    std::vector<std::vector<std::string>> commands;
    for (int n = 0; n < kClusterCounters; ++n) {
      commands.push_back({"INCR", "ctr:" + std::to_string(n)});
      commands.push_back({"RPUSH", "list:" + std::to_string(n), std::to_string(round)});
    }
    auto replies = cluster_->Run(commands);
    std::lock_guard lock(mu_);
    if (replies.size() != commands.size()) {
      error_ = "the cluster client returned " + std::to_string(replies.size()) + " replies";
      return;
    }
    for (size_t i = 0; i < commands.size(); ++i) {
      if (replies[i].is_error()) {
        error_ = commands[i][0] + " " + commands[i][1] + ": " + replies[i].str();
        return;
      }
      ++acked_[commands[i][1]];
    }
    if (!extra_.empty()) {
      extra_reply_ = cluster_->Run({extra_})[0];
      extra_.clear();
    }
    ++rounds_;
    std::this_thread::sleep_for(milliseconds(5));
  }
}

namespace {

void ExpectCounts(const std::map<std::string, int64_t>& acked,
                  const std::function<std::string(const std::vector<std::string>&)>& call) {
  ASSERT_EQ(acked.size(), 2u * kClusterCounters);
  for (const auto& [key, count] : acked) {
    if (key.starts_with("ctr:")) {
      EXPECT_EQ(call({"GET", key}), std::to_string(count)) << key;
    } else {
      EXPECT_EQ(call({"LLEN", key}), std::to_string(count)) << key;
    }
  }
}

}  // namespace

void ExpectCountersExact(ServerProcess& target, const std::map<std::string, int64_t>& acked) {
  ExpectCounts(acked, [&](const std::vector<std::string>& args) { return target.Call(args); });
}

void ExpectCountersExact(ClusterProcess& target, const std::map<std::string, int64_t>& acked) {
  ExpectCounts(acked, [&](const std::vector<std::string>& args) {
    ServerProcess* owner = target.OwnerOfKey(args[1]);
    return owner == nullptr ? std::string("(no owner)") : owner->Call(args);
  });
}

void ExpectCountersExact(const net::Uri& node, const std::map<std::string, int64_t>& acked) {
  net::Client seed;
  ASSERT_TRUE(seed.Connect(node)) << node.Endpoint();
  ExpectCounts(acked, [&](const std::vector<std::string>& args) -> std::string {
    auto reply = seed.Call(args);
    if (!reply) return "<" + reply.error().ToString() + ">";
    if (reply->is_error() && reply->str().starts_with("MOVED ")) {
      auto owner = net::Uri::Parse("redis://" + reply->str().substr(reply->str().rfind(' ') + 1));
      net::Client c;
      if (!owner || !c.Connect(*owner)) return "<owner unreachable: " + reply->str() + ">";
      reply = c.Call(args);
      if (!reply) return "<" + reply.error().ToString() + ">";
    }
    if (reply->is_null()) return "<nil>";
    if (reply->type() == resp::ReplyType::kInteger) return std::to_string(reply->integer());
    return reply->str();
  });
}

}  // namespace kf::test
