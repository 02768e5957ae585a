// ExpirySubscriber: the target's `expired` events into TargetExpiries.
#include "sync/expiry_subscriber.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <random>

#include "net/client.h"
#include "net/cluster_probe.h"
#include "sync/sync_errc.h"

namespace kf::sync {
namespace {

constexpr std::string_view kPattern = "__keyevent@*__:expired";

// Flags with the keyevent class (E) and the expired class (x) added, or the same text when
// they are already there ('A' includes x).
std::string WithExpiredEvents(const std::string& flags) {
  std::string out = flags;
  if (out.find('E') == std::string::npos) out += 'E';
  if (out.find('x') == std::string::npos && out.find('A') == std::string::npos) out += 'x';
  return out;
}

// The db of "__keyevent@<db>__:expired", -1 when it is not that.
int EventDb(std::string_view channel) {
  constexpr std::string_view kPrefix = "__keyevent@";
  if (!channel.starts_with(kPrefix)) return -1;
  int db = -1;
  auto begin = channel.data() + kPrefix.size();
  auto [p, ec] = std::from_chars(begin, channel.data() + channel.size(), db);
  if (ec != std::errc() ||
      std::string_view(p, channel.data() + channel.size() - p) != "__:expired") {
    return -1;
  }
  return db;
}

}  // namespace

ExpirySubscriber::ExpirySubscriber(net::Uri target, TargetExpiries* expiries)
    : target_(std::move(target)), expiries_(expiries) {}

ExpirySubscriber::~ExpirySubscriber() { Stop(); }

Result<void> ExpirySubscriber::EnableEvents(
    Node& node, const std::function<void(const std::string&)>& before_change) {
  net::Client admin;
  net::ClientOptions co;
  co.client_name = "keyferry-admin";
  if (auto c = admin.Connect(node.uri, co); !c) return MakeError(c.error());
  auto flags = admin.Call({"CONFIG", "GET", "notify-keyspace-events"});
  if (!flags || flags->is_error() || flags->size() != 2) {
    return MakeError(SyncErrc::kBadOption,
                     "the target " + node.uri.Endpoint() +
                         " refused CONFIG GET notify-keyspace-events" +
                         (flags && flags->is_error() ? " (" + flags->str() + ")" : "") +
                         "; keyferry needs its `expired` events to keep keys the target "
                         "expires by itself exact. Allow CONFIG for keyferry's user, or set "
                         "notify-keyspace-events to include Ex on the target");
  }
  node.old_flags = (*flags)[1].str();
  const std::string wanted = WithExpiredEvents(node.old_flags);
  if (before_change) before_change(node.old_flags);
  if (wanted != node.old_flags) {
    auto set = admin.Call({"CONFIG", "SET", "notify-keyspace-events", wanted});
    if (!set || !set->IsOk()) {
      return MakeError(SyncErrc::kBadOption,
                       "the target " + node.uri.Endpoint() +
                           " refused CONFIG SET notify-keyspace-events " + wanted +
                           (set ? " (" + set->str() + ")" : "") +
                           "; set notify-keyspace-events to include Ex on the target yourself");
    }
    node.config_changed = true;
  }
  return {};
}

Result<void> ExpirySubscriber::Start(const std::function<void(const std::string&)>& before_change) {
  // Every primary of a cluster, or the one server.
  std::vector<net::Uri> uris;
  auto topology = net::ReadClusterTopology(target_);
  if (!topology) return MakeError(topology.error());
  if (*topology) {
    for (const auto& shard : (*topology)->shards) {
      if (!shard.slots.empty()) uris.push_back(net::NodeUri(target_, shard.primary));
    }
  } else {
    uris.push_back(target_);
  }
  nodes_.clear();
  nodes_.resize(uris.size());
  for (size_t i = 0; i < uris.size(); ++i) {
    nodes_[i].uri = uris[i];
    KF_RETURN_IF_ERROR(EnableEvents(nodes_[i], before_change));
  }
  std::random_device rd;
  auto shared = std::make_shared<Shared>();
  shared->expiries = expiries_;
  const std::string suffix = std::to_string(rd()) + std::to_string(rd());
  shared->stop_channel = "keyferry:expiry-subscriber-stop:" + suffix;
  shared->fence_channel = "keyferry:expiry-fence:" + suffix;
  shared->fence_seen.assign(nodes_.size(), "");
  // Subscribe here, so that no event after Start() returns is missed.
  std::vector<std::shared_ptr<net::Client>> clients;
  for (const Node& node : nodes_) {
    auto client = std::make_shared<net::Client>();
    net::ClientOptions so;
    so.client_name = "keyferry-expiries";
    so.io_timeout = std::chrono::hours(24);  // a quiet target sends nothing for a long time
    if (auto c = client->Connect(node.uri, so); !c) return MakeError(c.error());
    if (auto s =
            client->Send({"PSUBSCRIBE", kPattern, shared->stop_channel, shared->fence_channel});
        !s) {
      return MakeError(s.error());
    }
    for (int i = 0; i < 3; ++i) {
      auto confirm = client->ReadReply();
      if (!confirm || confirm->is_error()) {
        return MakeError(SyncErrc::kBadOption, "the target " + node.uri.Endpoint() +
                                                   " refused PSUBSCRIBE to its expired events" +
                                                   (confirm ? ": " + confirm->str() : ""));
      }
    }
    clients.push_back(std::move(client));
  }
  shared_ = shared;
  expiries_->set_fence_channel(shared->fence_channel);
  for (size_t index = 0; index < nodes_.size(); ++index) {
    nodes_[index].thread = std::thread([shared, client = clients[index], index] {
      for (;;) {
        auto msg = client->ReadReply();
        if (!msg) {
          std::lock_guard lock(shared->mu);
          if (shared->expiries != nullptr) {
            shared->expiries->set_events_lost(
                "the connection receiving the expired events of the target " +
                client->uri().Endpoint() + " broke: " + msg.error().ToString());
          }
          return;
        }
        // ["pmessage", pattern, channel, key]
        if (!msg->is_aggregate() || msg->size() != 4 || (*msg)[0].str() != "pmessage") continue;
        const std::string& channel = (*msg)[2].str();
        if (channel == shared->stop_channel) return;
        if (channel == shared->fence_channel) {
          std::lock_guard lock(shared->mu);
          shared->fence_seen[index] = (*msg)[3].str();
          bool everywhere = true;
          for (const auto& seen : shared->fence_seen) everywhere &= seen == (*msg)[3].str();
          if (everywhere && shared->expiries != nullptr) {
            shared->expiries->FenceReached((*msg)[3].str());
          }
          continue;
        }
        int db = EventDb(channel);
        if (db < 0) continue;
        std::lock_guard lock(shared->mu);
        if (shared->expiries == nullptr) return;
        shared->expiries->Add(db, (*msg)[3].str());
      }
    });
  }
  return {};
}

void ExpirySubscriber::Stop() {
  if (shared_) {
    std::lock_guard lock(shared_->mu);
    shared_->expiries = nullptr;  // from now on the threads record nothing
  }
  for (Node& node : nodes_) {
    if (!node.thread.joinable()) continue;
    net::Client admin;
    net::ClientOptions co;
    co.client_name = "keyferry-admin";
    co.connect_timeout = std::chrono::milliseconds(2000);
    bool published = false;
    if (admin.Connect(node.uri, co)) {
      auto r = admin.Call({"PUBLISH", shared_->stop_channel, "stop"});
      published = r && !r->is_error();
    }
    if (published) {
      node.thread.join();
    } else {
      // The node cannot be reached, so it cannot wake the thread either; the thread holds
      // only shared state and ends when its connection fails.
      node.thread.detach();
    }
  }
  for (Node& node : nodes_) {
    if (!node.config_changed) continue;
    net::Client admin;
    if (admin.Connect(node.uri) &&
        admin.Call({"CONFIG", "SET", "notify-keyspace-events", node.old_flags})) {
      node.config_changed = false;
    } else {
      spdlog::warn(
          "could not restore notify-keyspace-events \"{}\" on the target {}; set it "
          "back by hand",
          node.old_flags, node.uri.Endpoint());
    }
  }
}

}  // namespace kf::sync
