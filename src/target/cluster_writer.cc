// ClusterWriter: slot routing, per-slot transactions with per-slot markers, redirections.
#include "target/cluster_writer.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <deque>
#include <map>
#include <thread>

#include "net/cluster_probe.h"
#include "net/cluster_slots.h"
#include "resp/encoder.h"
#include "target/target_errc.h"

namespace kf::target {
namespace {

using Clock = std::chrono::steady_clock;

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381" → host and port.
bool ParseRedirect(const std::string& text, std::string* host, int* port) {
  size_t first = text.find(' ');
  if (first == std::string::npos) return false;
  size_t second = text.find(' ', first + 1);
  if (second == std::string::npos) return false;
  std::string address = text.substr(second + 1);
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string_view p(address.data() + colon + 1, address.size() - colon - 1);
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), *port);
  if (ec != std::errc() || ptr != p.data() + p.size() || *port <= 0 || *port > 65535) return false;
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return true;
}

Bytes Encode(const std::vector<std::string>& args) {
  std::vector<ByteView> views;
  views.reserve(args.size());
  for (const auto& a : args) views.push_back(AsBytes(a));
  return resp::EncodeCommand(views);
}

}  // namespace

ClusterWriter::ClusterWriter(net::Uri seed, std::chrono::milliseconds redirect_for)
    : seed_(std::move(seed)), redirect_for_(redirect_for) {
  seed_.db = 0;
  slot_applied_.assign(net::kClusterSlotCount, -1);
}

std::string ClusterWriter::Describe() const {
  return "the cluster at " + seed_.Endpoint() + " (" + std::to_string(primaries_.size()) +
         " primaries)";
}

Error ClusterWriter::LinkFailed(const Node& node, const std::string& what, const Error& e) {
  return Error{make_error_code(TargetErrc::kLinkFailed),
               what + " on the cluster node " + node.address + " failed: " + e.ToString() +
                   " (what was applied is known from the slots' markers)"};
}

size_t ClusterWriter::NodeIndex(const std::string& host, int port) {
  std::string address = host + ":" + std::to_string(port);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].address == address) return i;
  }
  Node node;
  node.uri = seed_;
  node.uri.host = host;
  node.uri.port = port;
  node.address = address;
  nodes_.push_back(std::move(node));
  return nodes_.size() - 1;
}

Result<void> ClusterWriter::RefreshTopology() {
  net::ClusterReadOptions ro;
  ro.read_migrations = false;
  ro.client.connect_timeout = std::chrono::milliseconds(3000);
  // The seed first, then every node known: the seed may be the node that went away.
  std::vector<net::Uri> candidates{seed_};
  for (const auto& n : nodes_) candidates.push_back(n.uri);
  std::optional<Error> last;
  for (const auto& uri : candidates) {
    auto topology = net::ReadClusterTopology(uri, ro);
    if (!topology) {
      last = topology.error();
      continue;
    }
    if (!topology->has_value()) {
      return MakeError(TargetErrc::kRejected, "the target " + uri.Endpoint() +
                                                  " is no longer a cluster node (CLUSTER INFO)");
    }
    const net::ClusterTopology& t = **topology;
    owner_.assign(net::kClusterSlotCount, -1);
    primaries_.clear();
    first_slot_.clear();
    for (const auto& shard : t.shards) {
      if (shard.slots.empty()) continue;
      net::Uri node_uri = net::NodeUri(uri, shard.primary);
      size_t index = NodeIndex(node_uri.host, node_uri.port);
      nodes_[index].uri = node_uri;
      nodes_[index].uri.user = seed_.user;
      nodes_[index].uri.password = seed_.password;
      primaries_.push_back(index);
      first_slot_.push_back(shard.slots.front().first);
      for (const auto& range : shard.slots) {
        for (int s = range.first; s <= range.last; ++s) {
          owner_[static_cast<size_t>(s)] = static_cast<int>(index);
        }
      }
    }
    if (auto unassigned = t.UnassignedSlots(); !unassigned.empty()) {
      return MakeError(TargetErrc::kRejected,
                       "the target cluster at " + seed_.Endpoint() + " serves no node for slots " +
                           net::SlotRangesToString(unassigned) +
                           ": keys of those slots cannot be written. Assign every slot "
                           "(CLUSTER ADDSLOTS) and wait for cluster_state:ok, then run again");
    }
    return {};
  }
  return MakeError(TargetErrc::kLinkFailed, "cannot read the slot map of the target cluster at " +
                                                seed_.Endpoint() + ": " +
                                                (last ? last->ToString() : "no node answered"));
}

Result<net::Client*> ClusterWriter::ClientOf(size_t node) {
  Node& n = nodes_[node];
  if (n.client && n.client->connected()) return n.client.get();
  n.client = std::make_unique<net::Client>();
  net::ClientOptions co;
  co.client_name = "keyferry-stream";
  auto connected = n.client->Connect(n.uri, co);
  if (!connected) {
    n.client.reset();
    return MakeError(LinkFailed(n, "connecting", connected.error()));
  }
  return n.client.get();
}

Result<size_t> ClusterWriter::OwnerOf(int slot) {
  int owner = owner_.empty() ? -1 : owner_[static_cast<size_t>(slot)];
  if (owner < 0) {
    KF_RETURN_IF_ERROR(RefreshTopology());
    owner = owner_[static_cast<size_t>(slot)];
  }
  if (owner < 0) {
    return MakeError(TargetErrc::kRejected, "no primary of the target cluster at " +
                                                seed_.Endpoint() + " serves slot " +
                                                std::to_string(slot));
  }
  return static_cast<size_t>(owner);
}

Result<void> ClusterWriter::Connect() {
  Close();
  KF_RETURN_IF_ERROR(RefreshTopology());
  for (size_t p : primaries_) {
    auto client = ClientOf(p);
    if (!client) {
      return MakeError(client.error().code, "cannot reach the target: " + client.error().message);
    }
  }
  return {};
}

void ClusterWriter::Close() {
  for (auto& n : nodes_) n.client.reset();
}

Result<std::vector<NodeInfo>> ClusterWriter::Info(const char* section) {
  std::vector<NodeInfo> infos;
  for (size_t p : primaries_) {
    auto client = ClientOf(p);
    if (!client) return MakeError(client.error());
    auto reply = (*client)->Call({"INFO", section});
    if (!reply) {
      nodes_[p].client.reset();
      return MakeError(LinkFailed(nodes_[p], "INFO", reply.error()));
    }
    if (reply->is_error()) {
      return MakeError(TargetErrc::kRejected, "INFO " + std::string(section) +
                                                  " on the cluster node " + nodes_[p].address +
                                                  " was refused: " + reply->str());
    }
    infos.push_back({nodes_[p].address, reply->str()});
  }
  return infos;
}

Result<void> ClusterWriter::FlushAll() {
  for (size_t p : primaries_) {
    auto client = ClientOf(p);
    if (!client) return MakeError(client.error());
    auto reply = (*client)->Call({"FLUSHALL"});
    if (!reply) {
      nodes_[p].client.reset();
      return MakeError(LinkFailed(nodes_[p], "FLUSHALL", reply.error()));
    }
    if (reply->is_error()) {
      return MakeError(TargetErrc::kRejected, "FLUSHALL on the cluster node " + nodes_[p].address +
                                                  " failed: " + reply->str());
    }
  }
  slot_applied_.assign(net::kClusterSlotCount, -1);
  return {};
}

Result<std::vector<NodeReply>> ClusterWriter::CallEveryPrimary(
    const std::vector<std::string>& args) {
  std::vector<NodeReply> replies;
  for (size_t p : primaries_) {
    auto client = ClientOf(p);
    if (!client) return MakeError(client.error());
    auto reply = (*client)->Call(args);
    if (!reply) {
      nodes_[p].client.reset();
      return MakeError(LinkFailed(nodes_[p], args.front(), reply.error()));
    }
    if (reply->is_error()) {
      return MakeError(TargetErrc::kRejected, args.front() + " on the cluster node " +
                                                  nodes_[p].address +
                                                  " was refused: " + reply->str());
    }
    replies.push_back({nodes_[p].address, std::move(*reply)});
  }
  return replies;
}

Result<resp::Reply> ClusterWriter::CallInSlot(int slot, const std::vector<std::string>& args) {
  auto deadline = Clock::now() + redirect_for_;
  bool asking = false;
  std::optional<size_t> ask_node;
  for (;;) {
    size_t node = 0;
    if (ask_node) {
      node = *ask_node;
    } else {
      auto owner = OwnerOf(slot);
      if (!owner) return MakeError(owner.error());
      node = *owner;
    }
    auto client = ClientOf(node);
    if (!client) return MakeError(client.error());
    Result<resp::Reply> reply = asking ? [&]() -> Result<resp::Reply> {
      auto replies = (*client)->CallPipelined({{"ASKING"}, args});
      if (!replies) return MakeError(replies.error());
      return std::move((*replies)[1]);
    }()
        : (*client)->Call(args);
    if (!reply) {
      nodes_[node].client.reset();
      return MakeError(LinkFailed(nodes_[node], args.front(), reply.error()));
    }
    if (!reply->is_error() || !IsClusterRedirect(reply->str())) return reply;
    if (Clock::now() > deadline) {
      return MakeError(TargetErrc::kRedirected, "the target cluster kept answering \"" +
                                                    reply->str() + "\" to " + args.front() +
                                                    " in slot " + std::to_string(slot));
    }
    ++redirects_;
    std::string host;
    int port = 0;
    const std::string& text = reply->str();
    asking = false;
    ask_node.reset();
    if (text.starts_with("ASK ") && ParseRedirect(text, &host, &port)) {
      asking = true;
      ask_node = NodeIndex(host, port);
    } else if (text.starts_with("MOVED ")) {
      KF_RETURN_IF_ERROR(RefreshTopology());
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      KF_RETURN_IF_ERROR(RefreshTopology());
    }
  }
}

Result<std::optional<AppliedMarker>> ClusterWriter::ReadMarker() {
  if (primaries_.empty()) KF_RETURN_IF_ERROR(RefreshTopology());
  const std::string& head_key = head_key_;
  auto head_reply = CallInSlot(net::KeySlot(head_key), {"GET", head_key});
  if (!head_reply) return MakeError(head_reply.error());
  std::optional<AppliedMarker> head;
  if (!head_reply->is_null()) {
    head = head_reply->is_error() ? std::nullopt : ParseMarker(head_reply->str());
    if (!head) {
      return MakeError(TargetErrc::kForeignMarker,
                       Describe() + " holds a key named " + head_key +
                           " that keyferry did not write; keyferry reserves that name. Rename "
                           "or delete it on the target and run again");
    }
  }
  std::vector<SlotMarker> slot_markers;
  for (size_t p : primaries_) {
    auto keys = ScanNode(p, std::string(kAppliedMarkerKey) + "{*", [&](const std::string& k) {
      int slot = SlotOfMarkerKey(k);
      return slot >= 0 && Owns(slot);
    });
    if (!keys) return MakeError(keys.error());
    auto client = ClientOf(p);
    if (!client) return MakeError(client.error());
    for (const auto& key : *keys) {
      auto value = (*client)->Call({"GET", key});
      if (!value) {
        nodes_[p].client.reset();
        return MakeError(LinkFailed(nodes_[p], "GET " + key, value.error()));
      }
      if (value->is_null()) continue;  // moved or deleted meanwhile
      auto marker = value->is_error() ? std::nullopt : ParseSlotMarker(value->str());
      if (!marker) {
        return MakeError(TargetErrc::kForeignMarker,
                         Describe() + " holds a key named " + key +
                             " that keyferry did not write; keyferry reserves names starting "
                             "with " +
                             std::string(kAppliedMarkerKey) +
                             ". Rename or delete it on the target and run again");
      }
      marker->slot = SlotOfMarkerKey(key);
      slot_markers.push_back(std::move(*marker));
    }
  }
  ClusterResume resume = ResumeFromMarkers(head, slot_markers);
  if (!resume.foreign.empty()) {
    return MakeError(TargetErrc::kForeignMarker,
                     Describe() + " holds markers of two syncs: " + resume.foreign +
                         ". Point --target at the right cluster, or empty it");
  }
  slot_applied_ = std::move(resume.slot_applied);
  return resume.marker;
}

Result<void> ClusterWriter::WriteMarker(const AppliedMarker& marker) {
  if (primaries_.empty()) KF_RETURN_IF_ERROR(RefreshTopology());
  const std::string& head_key = head_key_;
  auto reply = CallInSlot(net::KeySlot(head_key), {"SET", head_key, EncodeMarker(marker)});
  if (!reply) return MakeError(reply.error());
  if (!reply->IsOk()) {
    return MakeError(TargetErrc::kRejected,
                     Describe() + " refused keyferry's applied-offset marker: " + reply->str());
  }
  if (marker.state == MarkerState::kSnapshot) slot_applied_.assign(net::kClusterSlotCount, -1);
  return {};
}

Result<void> ClusterWriter::DeleteMarkers() {
  if (primaries_.empty()) KF_RETURN_IF_ERROR(RefreshTopology());
  auto head = CallInSlot(net::KeySlot(head_key_), {"DEL", head_key_});
  if (!head) return MakeError(head.error());
  for (size_t p : primaries_) {
    auto keys = ScanNode(p, std::string(kAppliedMarkerKey) + "{*", [&](const std::string& k) {
      int slot = SlotOfMarkerKey(k);
      return slot >= 0 && Owns(slot);
    });
    if (!keys) return MakeError(keys.error());
    std::vector<std::vector<std::string>> dels;
    for (const auto& k : *keys) dels.push_back({"DEL", k});
    if (dels.empty()) continue;
    auto client = ClientOf(p);
    if (!client) return MakeError(client.error());
    auto deleted = (*client)->CallPipelined(dels);
    if (!deleted) {
      nodes_[p].client.reset();
      return MakeError(LinkFailed(nodes_[p], "deleting keyferry's markers", deleted.error()));
    }
  }
  for (size_t s = 0; s < slot_applied_.size(); ++s) {
    if (Owns(static_cast<int>(s))) slot_applied_[s] = -1;
  }
  return {};
}

void ClusterWriter::set_owned_slots(std::vector<net::SlotRange> slots) {
  owned_.assign(net::kClusterSlotCount, slots.empty());
  for (const auto& range : slots) {
    for (int s = std::max(range.first, 0); s <= std::min(range.last, net::kClusterSlotCount - 1);
         ++s) {
      owned_[static_cast<size_t>(s)] = true;
    }
  }
}

Result<std::vector<std::string>> ClusterWriter::ScanNode(
    size_t node, const std::string& pattern, const std::function<bool(const std::string&)>& keep) {
  auto client = ClientOf(node);
  if (!client) return MakeError(client.error());
  std::vector<std::string> keys;
  std::string cursor = "0";
  // SCAN ends when the cursor comes back to 0; the bound only stops a server that never
  // says so.
  for (int rounds = 0; rounds < 10'000'000; ++rounds) {
    std::vector<std::string> args = {"SCAN", cursor, "COUNT", "1000"};
    if (!pattern.empty()) {
      args.push_back("MATCH");
      args.push_back(pattern);
    }
    auto reply = (*client)->Call(args);
    if (!reply) {
      nodes_[node].client.reset();
      return MakeError(LinkFailed(nodes_[node], "SCAN", reply.error()));
    }
    if (reply->is_error() || reply->size() != 2) {
      return MakeError(TargetErrc::kRejected, "SCAN on the cluster node " + nodes_[node].address +
                                                  " failed: " + reply->str());
    }
    cursor = (*reply)[0].str();
    for (const auto& k : (*reply)[1].children()) {
      if (keep(k.str())) keys.push_back(k.str());
    }
    if (cursor == "0") break;
  }
  return keys;
}

Result<uint64_t> ClusterWriter::DeleteKeysInSlots(const std::vector<net::SlotRange>& slots,
                                                  int db) {
  if (db != 0) {
    return MakeError(TargetErrc::kRejected, "a cluster has db 0 only (asked to delete keys in db " +
                                                std::to_string(db) + ")");
  }
  if (primaries_.empty()) KF_RETURN_IF_ERROR(RefreshTopology());
  std::vector<bool> wanted(net::kClusterSlotCount, false);
  for (const auto& range : slots) {
    for (int s = std::max(range.first, 0); s <= std::min(range.last, net::kClusterSlotCount - 1);
         ++s) {
      wanted[static_cast<size_t>(s)] = true;
    }
  }
  uint64_t deleted = 0;
  for (size_t p : primaries_) {
    auto keys = ScanNode(p, "", [&](const std::string& k) {
      // The slot markers of these slots go too: they describe the copy being replaced, and
      // a stale one's floor could outrank the new copy's offsets on a later resume. Other
      // markers (every shard's head marker) stay, wherever they hash.
      return wanted[static_cast<size_t>(net::KeySlot(k))] &&
             (!k.starts_with(kAppliedMarkerKey) || SlotOfMarkerKey(k) >= 0);
    });
    if (!keys) return MakeError(keys.error());
    auto client = ClientOf(p);
    if (!client) return MakeError(client.error());
    for (size_t i = 0; i < keys->size(); i += 1000) {
      std::vector<std::vector<std::string>> unlinks;
      for (size_t j = i; j < std::min(keys->size(), i + 1000); ++j) {
        unlinks.push_back({"UNLINK", (*keys)[j]});
      }
      auto r = (*client)->CallPipelined(unlinks);
      if (!r) {
        nodes_[p].client.reset();
        return MakeError(LinkFailed(nodes_[p], "UNLINK", r.error()));
      }
      for (const auto& reply : *r) {
        if (reply.is_error()) {
          return MakeError(
              TargetErrc::kRejected,
              "UNLINK on the cluster node " + nodes_[p].address + " failed: " + reply.str());
        }
      }
      deleted += unlinks.size();
    }
  }
  return deleted;
}

std::unique_ptr<SnapshotLanes> ClusterWriter::NewSnapshotLanes(LaneOptions options) {
  std::vector<net::Uri> uris;
  std::vector<int> remap(nodes_.size(), -1);
  for (size_t i = 0; i < primaries_.size(); ++i) {
    remap[primaries_[i]] = static_cast<int>(i);
    uris.push_back(nodes_[primaries_[i]].uri);
  }
  std::vector<int> owner(owner_.size(), -1);
  for (size_t s = 0; s < owner_.size(); ++s) {
    if (owner_[s] >= 0) owner[s] = remap[static_cast<size_t>(owner_[s])];
  }
  return std::make_unique<SnapshotLanes>(std::move(uris), std::move(owner), std::move(options));
}

Result<void> ClusterWriter::SendTransactions(std::vector<SlotTx>& all,
                                             const std::vector<size_t>& txs,
                                             std::vector<size_t>* redirected) {
  // Group by owner, keeping each slot's order (slots are independent of each other).
  std::map<size_t, std::vector<size_t>> by_node;
  for (size_t t : txs) {
    if (all[t].ask_node) {
      by_node[*all[t].ask_node].push_back(t);
      continue;
    }
    auto owner = OwnerOf(all[t].slot);
    if (!owner) return MakeError(owner.error());
    by_node[*owner].push_back(t);
  }
  static const Bytes kAsking = Encode({"ASKING"});
  static const Bytes kMulti = Encode({"MULTI"});
  static const Bytes kExec = Encode({"EXEC"});
  std::deque<Bytes> markers;
  std::vector<std::pair<size_t, net::Client*>> written;
  for (auto& [node, list] : by_node) {
    auto client = ClientOf(node);
    if (!client) return MakeError(client.error());
    std::vector<ByteView> segments;
    for (size_t t : list) {
      if (all[t].ask_node) segments.push_back(ByteView(kAsking));
      segments.push_back(ByteView(kMulti));
      for (const StreamOp* op : all[t].ops) segments.push_back(ByteView(op->command));
      markers.push_back(Encode({"SET", all[t].marker_key, all[t].marker_value}));
      segments.push_back(ByteView(markers.back()));
      segments.push_back(ByteView(kExec));
    }
    auto sent = (*client)->SendRaw(segments);
    if (!sent) {
      nodes_[node].client.reset();
      return MakeError(LinkFailed(nodes_[node], "writing the replication stream", sent.error()));
    }
    written.emplace_back(node, *client);
  }
  for (auto& [node, client] : written) {
    for (size_t t : by_node[node]) {
      SlotTx& tx = all[t];
      auto read = [&](const std::string& what) -> Result<resp::Reply> {
        auto reply = client->ReadReply();
        if (!reply) {
          nodes_[node].client.reset();
          return MakeError(LinkFailed(nodes_[node], "reading the reply to " + what, reply.error()));
        }
        return reply;
      };
      std::optional<Error> refused;
      std::string redirect;
      auto note = [&](const resp::Reply& reply, const std::string& description) {
        if (!reply.is_error() || refused || !redirect.empty()) return;
        if (IsClusterRedirect(reply.str())) {
          redirect = reply.str();
          return;
        }
        auto r = CheckReply(reply, description, nodes_[node].address);
        refused = r ? Error{make_error_code(TargetErrc::kRejected), reply.str()} : r.error();
      };
      if (tx.ask_node) {
        auto asking = read("ASKING");
        if (!asking) return MakeError(asking.error());
        note(*asking, "ASKING");
        tx.ask_node.reset();  // ASKING holds for this one send
      }
      auto multi = read("MULTI");
      if (!multi) return MakeError(multi.error());
      note(*multi, "MULTI");
      for (const StreamOp* op : tx.ops) {
        auto queued = read(op->description);
        if (!queued) return MakeError(queued.error());
        note(*queued, op->description);
      }
      auto marker = read("SET " + tx.marker_key);
      if (!marker) return MakeError(marker.error());
      note(*marker,
           "SET " + tx.marker_key + " (keyferry's marker of slot " + std::to_string(tx.slot) + ")");
      auto exec = read("EXEC");
      if (!exec) return MakeError(exec.error());
      if (!redirect.empty()) {  // EXECABORT: nothing of this slot applied
        tx.last_error = redirect;
        redirected->push_back(t);
        continue;
      }
      if (refused) {
        return MakeError(refused->code, refused->message + " (the target discarded slot " +
                                            std::to_string(tx.slot) + "'s part of the batch)");
      }
      if (exec->is_error()) {
        if (IsClusterRedirect(exec->str())) {
          tx.last_error = exec->str();
          redirected->push_back(t);
          continue;
        }
        return MakeError(TargetErrc::kRejected, "the cluster node " + nodes_[node].address +
                                                    " refused the batch of slot " +
                                                    std::to_string(tx.slot) + ": " + exec->str());
      }
      // EXEC ran: the slot's commands and its marker applied together.
      slot_applied_[static_cast<size_t>(tx.slot)] = -2;  // set by the caller to the end
      if (exec->size() != tx.ops.size() + 1) {
        return MakeError(TargetErrc::kRejected,
                         "the cluster node " + nodes_[node].address + " answered EXEC with " +
                             std::to_string(exec->size()) + " replies for " +
                             std::to_string(tx.ops.size() + 1) + " commands");
      }
      for (size_t i = 0; i < tx.ops.size(); ++i) {
        auto ok = CheckReply((*exec)[i], tx.ops[i]->description, nodes_[node].address);
        if (!ok) return ok;
      }
    }
  }
  return {};
}

Result<void> ClusterWriter::Retry(std::vector<SlotTx>& all, std::vector<size_t> redirected) {
  auto deadline = Clock::now() + redirect_for_;
  uint64_t rounds = 0;
  while (!redirected.empty()) {
    if (Clock::now() > deadline) {
      const SlotTx& tx = all[redirected.front()];
      return MakeError(TargetErrc::kRedirected,
                       "the target cluster kept refusing the writes of slot " +
                           std::to_string(tx.slot) + " with \"" + tx.last_error + "\" for " +
                           std::to_string(redirect_for_.count() / 1000) +
                           " s; check the cluster (CLUSTER INFO, a slot migration that does "
                           "not finish) and run the sync again: it resumes from its markers");
    }
    if (rounds++ % 10 == 0) {  // a half-migrated slot answers TRYAGAIN every 100 ms
      spdlog::warn(
          "the target cluster redirected the writes of {} slot(s) (first: slot {}, \"{}\"); "
          "sending them again",
          redirected.size(), all[redirected.front()].slot, all[redirected.front()].last_error);
    }
    bool wait = false;
    bool refresh = false;
    for (size_t t : redirected) {
      SlotTx& tx = all[t];
      ++redirects_;
      std::string host;
      int port = 0;
      tx.ask_node.reset();
      if (tx.last_error.starts_with("ASK ") && ParseRedirect(tx.last_error, &host, &port)) {
        // The importing node takes the slot's keys behind ASKING (kept for the whole MULTI).
        tx.ask_node = NodeIndex(host, port);
      } else {
        refresh = true;                                       // MOVED: the slot has a new owner
        wait = wait || !tx.last_error.starts_with("MOVED ");  // TRYAGAIN, CLUSTERDOWN
      }
    }
    if (wait) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (refresh) KF_RETURN_IF_ERROR(RefreshTopology());
    std::vector<size_t> again;
    KF_RETURN_IF_ERROR(SendTransactions(all, redirected, &again));
    redirected = std::move(again);
  }
  return {};
}

Result<void> ClusterWriter::ApplySlots(const std::vector<StreamOp>& batch,
                                       const std::vector<int64_t>& ends, size_t begin, size_t end) {
  // The segment's end offset and the source db after it.
  int64_t end_offset = -1;
  int db_after = source_db_;
  for (size_t i = begin; i < end; ++i) {
    if (batch[i].end_offset >= 0) {
      end_offset = batch[i].end_offset;
      db_after = batch[i].source_db_after;
    }
  }
  if (end_offset < 0) return {};
  std::vector<SlotTx> txs;
  std::vector<int> tx_of_slot(net::kClusterSlotCount, -1);
  uint64_t commands = 0;
  for (size_t i = begin; i < end; ++i) {
    const StreamOp& op = batch[i];
    if (op.command.empty()) continue;
    if (op.slot < 0 || op.slot >= net::kClusterSlotCount) {
      return MakeError(TargetErrc::kRejected,
                       "internal error: a stream command for a cluster target without a slot: " +
                           op.description);
    }
    if (op.target_db != 0) {
      return MakeError(TargetErrc::kRejected, "a cluster has db 0 only, and the stream's " +
                                                  op.description + " applies in db " +
                                                  std::to_string(op.target_db));
    }
    if (ends[i] <= slot_applied_[static_cast<size_t>(op.slot)]) continue;  // applied before
    int& t = tx_of_slot[static_cast<size_t>(op.slot)];
    if (t < 0) {
      t = static_cast<int>(txs.size());
      txs.push_back(SlotTx{});
      txs.back().slot = op.slot;
    }
    txs[static_cast<size_t>(t)].ops.push_back(&op);
    ++commands;
  }
  if (!txs.empty() && (marker_id_.empty() || replid_.empty())) {
    return MakeError(TargetErrc::kRejected,
                     "internal error: the stream writer has no marker identity");
  }
  std::vector<size_t> all;
  for (size_t t = 0; t < txs.size(); ++t) {
    SlotTx& tx = txs[t];
    tx.marker_key = SlotMarkerKey(tx.slot);
    tx.marker_value = EncodeSlotMarker(SlotMarker{tx.slot, marker_id_, replid_, end_offset,
                                                  applied_offset_, source_db_, db_after});
    all.push_back(t);
  }
  if (!all.empty()) {
    std::vector<size_t> redirected;
    auto sent = SendTransactions(txs, all, &redirected);
    auto settle = [&] {
      for (const auto& tx : txs) {
        auto& applied = slot_applied_[static_cast<size_t>(tx.slot)];
        if (applied == -2) applied = end_offset;
      }
    };
    if (sent && !redirected.empty()) sent = Retry(txs, std::move(redirected));
    settle();
    if (!sent) return sent;
  }
  applied_offset_ = end_offset;
  source_db_ = db_after;
  commands_applied_ += commands;
  return {};
}

Result<void> ClusterWriter::ApplyEveryPrimary(const StreamOp& op, int64_t end) {
  if (marker_id_.empty() || replid_.empty()) {
    return MakeError(TargetErrc::kRejected,
                     "internal error: the stream writer has no marker identity");
  }
  if (!owned_.empty()) {
    // A shared target (a cluster source): other syncs own the first slots' markers, and
    // every shard's sync sends the same command. Applied without a marker, to every primary;
    // a second application only finds its work done.
    for (size_t p : primaries_) {
      auto client = ClientOf(p);
      if (!client) return MakeError(client.error());
      std::vector<ByteView> segments{ByteView(op.command)};
      auto sent = (*client)->SendRaw(segments);
      auto reply = sent ? (*client)->ReadReply() : Result<resp::Reply>(MakeError(sent.error()));
      if (!reply) {
        nodes_[p].client.reset();
        return MakeError(LinkFailed(nodes_[p], op.description, reply.error()));
      }
      if (reply->is_error() && reply->str().find("Library not found") == std::string::npos &&
          reply->str().find("already exists") == std::string::npos) {
        auto ok = CheckReply(*reply, op.description, nodes_[p].address);
        if (!ok) return ok;
      }
    }
    applied_offset_ = end;
    source_db_ = op.source_db_after;
    ++commands_applied_;
    return {};
  }
  // One transaction per primary, in the slot of its first slot's marker.
  std::vector<SlotTx> txs;
  std::vector<size_t> all;
  for (size_t i = 0; i < primaries_.size(); ++i) {
    int slot = first_slot_[i];
    if (end <= slot_applied_[static_cast<size_t>(slot)]) continue;
    SlotTx tx;
    tx.slot = slot;
    tx.ops.push_back(&op);
    tx.marker_key = SlotMarkerKey(slot);
    tx.marker_value = EncodeSlotMarker(SlotMarker{slot, marker_id_, replid_, end, applied_offset_,
                                                  source_db_, op.source_db_after});
    txs.push_back(std::move(tx));
    all.push_back(txs.size() - 1);
  }
  std::vector<size_t> redirected;
  auto sent = SendTransactions(txs, all, &redirected);
  if (sent && !redirected.empty()) sent = Retry(txs, std::move(redirected));
  for (const auto& tx : txs) {
    auto& applied = slot_applied_[static_cast<size_t>(tx.slot)];
    if (applied == -2) applied = end;
  }
  if (!sent) return sent;
  applied_offset_ = end;
  source_db_ = op.source_db_after;
  ++commands_applied_;
  return {};
}

Result<void> ClusterWriter::Apply(const std::vector<StreamOp>& batch) {
  if (batch.empty()) return {};
  if (batch.back().end_offset < 0) {
    return MakeError(TargetErrc::kRejected,
                     "internal error: a stream batch ended inside a source transaction");
  }
  if (primaries_.empty()) KF_RETURN_IF_ERROR(RefreshTopology());
  // The offset each op counts at: its own, or its transaction's end (the next op's that
  // has one), so a replay skips a transaction's commands exactly when its slot has it.
  std::vector<int64_t> ends(batch.size(), -1);
  int64_t next = batch.back().end_offset;
  for (size_t i = batch.size(); i-- > 0;) {
    if (batch[i].end_offset >= 0) next = batch[i].end_offset;
    ends[i] = next;
  }
  for (const auto& op : batch) {
    if (op.slot == kEveryPrimary && op.end_offset < 0) {
      return MakeError(TargetErrc::kRejected,
                       "the source ran " + op.description +
                           " inside a transaction; a cluster target cannot apply a command for "
                           "every primary as part of a transaction. Nothing of this batch was "
                           "written. Migrate into a standalone target, or run it outside MULTI "
                           "on the source");
    }
  }
  size_t begin = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].slot != kEveryPrimary || batch[i].command.empty()) continue;
    KF_RETURN_IF_ERROR(ApplySlots(batch, ends, begin, i));
    KF_RETURN_IF_ERROR(ApplyEveryPrimary(batch[i], ends[i]));
    begin = i + 1;
  }
  KF_RETURN_IF_ERROR(ApplySlots(batch, ends, begin, batch.size()));
  return {};
}

}  // namespace kf::target
