// ExpirySubscriber: the target's `expired` events into TargetExpiries.
#include "sync/expiry_subscriber.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <random>

#include "net/client.h"
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

Result<void> ExpirySubscriber::Start(const std::function<void(const std::string&)>& before_change) {
  net::Client admin;
  net::ClientOptions co;
  co.client_name = "keyferry-admin";
  if (auto c = admin.Connect(target_, co); !c) return MakeError(c.error());
  auto flags = admin.Call({"CONFIG", "GET", "notify-keyspace-events"});
  if (!flags || flags->is_error() || flags->size() != 2) {
    return MakeError(SyncErrc::kBadOption,
                     "the target " + target_.Endpoint() +
                         " refused CONFIG GET notify-keyspace-events" +
                         (flags && flags->is_error() ? " (" + flags->str() + ")" : "") +
                         "; keyferry needs its `expired` events to keep keys the target "
                         "expires by itself exact. Allow CONFIG for keyferry's user, or set "
                         "notify-keyspace-events to include Ex on the target");
  }
  old_flags_ = (*flags)[1].str();
  const std::string wanted = WithExpiredEvents(old_flags_);
  if (before_change) before_change(old_flags_);
  if (wanted != old_flags_) {
    auto set = admin.Call({"CONFIG", "SET", "notify-keyspace-events", wanted});
    if (!set || !set->IsOk()) {
      return MakeError(SyncErrc::kBadOption,
                       "the target " + target_.Endpoint() +
                           " refused CONFIG SET notify-keyspace-events " + wanted +
                           (set ? " (" + set->str() + ")" : "") +
                           "; set notify-keyspace-events to include Ex on the target yourself");
    }
    config_changed_ = true;
  }
  std::random_device rd;
  auto shared = std::make_shared<Shared>();
  shared->expiries = expiries_;
  const std::string suffix = std::to_string(rd()) + std::to_string(rd());
  shared->stop_channel = "keyferry:expiry-subscriber-stop:" + suffix;
  shared->fence_channel = "keyferry:expiry-fence:" + suffix;
  // Subscribe here, so that no event after Start() returns is missed.
  auto client = std::make_shared<net::Client>();
  net::ClientOptions so;
  so.client_name = "keyferry-expiries";
  so.io_timeout = std::chrono::hours(24);  // a quiet target sends nothing for a long time
  if (auto c = client->Connect(target_, so); !c) return MakeError(c.error());
  if (auto s = client->Send({"PSUBSCRIBE", kPattern, shared->stop_channel, shared->fence_channel});
      !s) {
    return MakeError(s.error());
  }
  for (int i = 0; i < 3; ++i) {
    auto confirm = client->ReadReply();
    if (!confirm || confirm->is_error()) {
      return MakeError(SyncErrc::kBadOption, "the target " + target_.Endpoint() +
                                                 " refused PSUBSCRIBE to its expired events" +
                                                 (confirm ? ": " + confirm->str() : ""));
    }
  }
  shared_ = shared;
  expiries_->set_fence_channel(shared->fence_channel);
  thread_ = std::thread([shared, client] {
    for (;;) {
      auto msg = client->ReadReply();
      if (!msg) {
        std::lock_guard lock(shared->mu);
        if (shared->expiries != nullptr) {
          shared->expiries->set_events_lost(
              "the connection receiving the target's expired events broke: " +
              msg.error().ToString());
        }
        return;
      }
      // ["pmessage", pattern, channel, key]
      if (!msg->is_aggregate() || msg->size() != 4 || (*msg)[0].str() != "pmessage") continue;
      const std::string& channel = (*msg)[2].str();
      if (channel == shared->stop_channel) return;
      if (channel == shared->fence_channel) {
        std::lock_guard lock(shared->mu);
        if (shared->expiries != nullptr) shared->expiries->FenceReached((*msg)[3].str());
        continue;
      }
      int db = EventDb(channel);
      if (db < 0) continue;
      std::lock_guard lock(shared->mu);
      if (shared->expiries == nullptr) return;
      shared->expiries->Add(db, (*msg)[3].str());
    }
  });
  return {};
}

void ExpirySubscriber::Stop() {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(shared_->mu);
      shared_->expiries = nullptr;  // from now on the thread records nothing
    }
    net::Client admin;
    net::ClientOptions co;
    co.client_name = "keyferry-admin";
    co.connect_timeout = std::chrono::milliseconds(2000);
    bool published = false;
    if (admin.Connect(target_, co)) {
      auto r = admin.Call({"PUBLISH", shared_->stop_channel, "stop"});
      published = r && !r->is_error();
    }
    if (published) {
      thread_.join();
    } else {
      // The target cannot be reached, so it cannot wake the thread either; the thread
      // holds only shared state and ends when its connection fails.
      thread_.detach();
    }
  }
  if (config_changed_) {
    net::Client admin;
    if (admin.Connect(target_) &&
        admin.Call({"CONFIG", "SET", "notify-keyspace-events", old_flags_})) {
      config_changed_ = false;
    } else {
      spdlog::warn(
          "could not restore notify-keyspace-events \"{}\" on the target {}; set it "
          "back by hand",
          old_flags_, target_.Endpoint());
    }
  }
}

}  // namespace kf::sync
