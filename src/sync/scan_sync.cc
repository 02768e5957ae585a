// ScanSync: copy with SCAN + DUMP, follow with keyspace notifications (scan_sync.h).
#include "sync/scan_sync.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "net/client.h"
#include "net/cluster_probe.h"
#include "net/cluster_slots.h"
#include "net/connection.h"
#include "net/errc.h"
#include "net/server_info.h"
#include "rdb/crc64.h"
#include "rdb/rdb_writer.h"
#include "rdb/reader.h"
#include "resp/encoder.h"
#include "resp/reply_parser.h"
#include "sync/cluster_source_sync.h"
#include "sync/key_filter.h"
#include "sync/keyspace_events.h"
#include "sync/snapshot_sink.h"
#include "sync/sync_errc.h"
#include "sync/target_checks.h"
#include "target/applied_marker.h"
#include "target/writer.h"

namespace kf::sync {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using DbKey = std::pair<int, std::string>;

constexpr size_t kScanCount = 1000;   // SCAN COUNT, and keys per DUMP batch
constexpr size_t kFollowBatch = 500;  // notified keys copied per round
constexpr uint8_t kOpFunction2 = 0xF5;
constexpr uint8_t kOpExpireMs = 0xFC;
constexpr uint8_t kOpSelectDb = 0xFE;
constexpr uint8_t kOpEof = 0xFF;
// Keys the notification probe writes on the source (when CONFIG is refused); never copied.
constexpr std::string_view kProbePrefix = "keyferry:scan-probe:";

bool IsProbeKey(std::string_view key) { return key.substr(0, kProbePrefix.size()) == kProbePrefix; }

// The subscription to the source's keyspace notifications, on a connection of its own read
// by one thread. Every notified key lands in `dirty`; a fence is a PING whose answer comes
// after every notification the source sent before it.
class Subscriber {
 public:
  explicit Subscriber(net::Uri source) : source_(std::move(source)) {}
  ~Subscriber() { Stop(); }

  Result<void> Start() {
    Stop();
    net::ClientOptions co;
    co.client_name = "keyferry-scan-events";
    co.io_timeout = milliseconds(5000);
    net::Client client;
    KF_RETURN_IF_ERROR(client.Connect(source_, co));
    KF_RETURN_IF_ERROR(client.Send({"PSUBSCRIBE", "__keyspace@*__:*"}));
    auto confirm = client.ReadReply();
    if (!confirm) return MakeError(confirm.error());
    if (confirm->is_error()) {
      return MakeError(SyncErrc::kBadOption,
                       "the source " + source_.Endpoint() +
                           " refused PSUBSCRIBE: " + confirm->str() +
                           "; scan mode follows changes through keyspace notifications: allow "
                           "the user +psubscribe and the channels __keyspace@*");
    }
    auto released = client.Release();
    if (!released) return MakeError(released.error());
    conn_ = std::move(released->connection);
    parser_.Reset();
    lost_ = false;
    // A fence sent on the lost connection may never be answered: send it again on this one.
    fence_sent_ = fence_seen_.load();
    stop_ = false;
    pending_ = std::move(released->buffered);
    thread_ = std::thread([this] { Run(); });
    return {};
  }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (conn_) conn_->Close();
    conn_.reset();
  }

  bool lost() const { return lost_; }
  std::string lost_reason() {
    std::lock_guard lock(mu_);
    return lost_reason_;
  }

  // Takes up to `max` notified keys.
  std::vector<DbKey> Take(size_t max) {
    std::lock_guard lock(mu_);
    std::vector<DbKey> out;
    while (!dirty_.empty() && out.size() < max) {
      out.push_back(std::move(dirty_.extract(dirty_.begin()).value()));
    }
    return out;
  }
  size_t pending() {
    std::lock_guard lock(mu_);
    return dirty_.size();
  }
  uint64_t events() const { return events_; }
  // The events of the probe's keys (kProbePrefix), in arrival order.
  std::vector<KeyspaceEvent> probe_events() {
    std::lock_guard lock(mu_);
    return probe_events_;
  }

  // Asks for a fence; FenceReached(token) says when every notification sent before it is in.
  uint64_t RequestFence() { return ++fence_requested_; }
  bool FenceReached(uint64_t token) const { return fence_seen_ >= token; }

 private:
  void Run() {
    std::vector<uint8_t> buf(64 * 1024);
    for (;;) {
      if (stop_) return;
      const uint64_t want = fence_requested_;
      if (want > fence_sent_) {
        resp::CommandEncoder ping;
        const std::string token = "keyferry-fence-" + std::to_string(want);
        ping.Add({"PING", token});
        if (auto sent = conn_->WriteAll(ping.ToBytes(), milliseconds(5000)); !sent) {
          return Lose("sending a fence failed: " + sent.error().ToString());
        }
        fence_sent_ = want;
      }
      ByteView data(pending_);
      while (!data.empty()) {
        auto out = parser_.Feed(data);
        data = data.subspan(out.consumed);
        if (out.malformed()) return Lose("a malformed notification: " + out.error.message);
        if (!out.complete()) break;
        Handle(parser_.TakeReply());
      }
      pending_.clear();
      auto n = conn_->ReadSome(buf, milliseconds(50));
      if (!n) {
        if (n.error().code == make_error_code(net::NetErrc::kTimeout)) continue;
        return Lose("the notification connection dropped: " + n.error().ToString());
      }
      pending_.assign(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*n));
    }
  }

  void Handle(const resp::Reply& reply) {
    if (auto e = ParseKeyspaceEvent(reply)) {
      std::lock_guard lock(mu_);
      ++events_;
      if (IsProbeKey(e->key)) {
        probe_events_.push_back(std::move(*e));
      } else {
        dirty_.insert({e->db, std::move(e->key)});
      }
      return;
    }
    // A pong: ["pong", token] (RESP2) or the token itself (RESP3).
    std::string_view text = reply.is_aggregate() && reply.size() == 2
                                ? std::string_view(reply[1].str())
                                : std::string_view(reply.str());
    constexpr std::string_view kFence = "keyferry-fence-";
    if (text.substr(0, kFence.size()) == kFence) {
      uint64_t token = 0;
      std::from_chars(text.data() + kFence.size(), text.data() + text.size(), token);
      if (token > fence_seen_) fence_seen_ = token;
    }
  }

  void Lose(std::string why) {
    std::lock_guard lock(mu_);
    lost_reason_ = std::move(why);
    lost_ = true;
  }

  net::Uri source_;
  std::unique_ptr<net::Connection> conn_;
  resp::ReplyParser parser_;
  Bytes pending_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> lost_{false};
  std::atomic<uint64_t> events_{0};
  std::atomic<uint64_t> fence_requested_{0};
  std::atomic<uint64_t> fence_sent_{0};
  std::atomic<uint64_t> fence_seen_{0};
  std::mutex mu_;
  std::set<DbKey> dirty_;
  std::vector<KeyspaceEvent> probe_events_;
  std::string lost_reason_;
};

// The value of `field` in a FUNCTION LIST entry (a RESP3 map or a RESP2 flat array).
const resp::Reply* Field(const resp::Reply& entry, std::string_view field) {
  for (size_t i = 0; i + 1 < entry.size(); i += 2) {
    if (entry[i].str() == field) return &entry[i + 1];
  }
  return nullptr;
}

}  // namespace

struct ScanSync::Impl {
  const SyncOptions& options;
  SyncStats* stats;
  const std::atomic<bool>& stop;
  net::Client source;  // reads: SCAN, DUMP, PEXPIRETIME
  int source_selected = 0;
  bool has_pexpiretime = true;
  int rdb_version = 11;
  std::string restore_notify_flags;  // set back at the end when keyferry changed them
  bool changed_notify_flags = false;
  Subscriber subscriber;
  KeyFilter filter;
  DbMap db_map;
  DbLanding landing{&db_map};
  std::unique_ptr<target::Writer> writer;
  std::unique_ptr<target::SnapshotLanes> lanes;
  std::unique_ptr<SnapshotSink> sink;
  std::unique_ptr<rdb::RdbReader> reader;
  int stream_db = -1;  // the db of the synthetic stream's last record
  uint64_t recopied = 0;
  uint64_t deleted = 0;
  int64_t evicted_baseline = -1;
  // INFO commandstats' FLUSHDB/FLUSHALL/SWAPDB and FUNCTION changes when last read.
  UnnotifiedWriteCalls unnotified_baseline;

  std::atomic<uint64_t>* drain_requested = nullptr;  // ScanSync's, for RequestDrain
  std::atomic<uint64_t>* drain_done = nullptr;
  std::atomic<uint64_t>* pending_keys = nullptr;

  Impl(const SyncOptions& o, SyncStats* s, const std::atomic<bool>& st)
      : options(o), stats(s), stop(st), subscriber(o.source) {}

  Result<resp::Reply> SourceCall(const std::vector<std::string>& args) {
    auto reply = source.Call(args);
    if (!reply) return MakeError(reply.error());
    return reply;
  }

  Result<void> ConnectSource() {
    net::ClientOptions co;
    co.client_name = "keyferry-scan";
    co.io_timeout = milliseconds(30000);
    KF_RETURN_IF_ERROR(source.Connect(options.source, co));
    source_selected = 0;
    auto info = SourceCall({"INFO", "server"});
    if (!info) return MakeError(info.error());
    if (net::InfoField(info->str(), "redis_mode") == "cluster" && !shard()) {
      return MakeError(SyncErrc::kBadOption,
                       "the source " + options.source.Endpoint() +
                           " is a cluster node; scan mode copies one server only so far "
                           "(docs/scan.md). Use --source-mode replica for a cluster source");
    }
    rdb_version = net::ServerRdbVersion(info->str());
    const std::string version = net::InfoField(info->str(), "redis_version");
    int major = 0;
    std::from_chars(version.data(), version.data() + version.size(), major);
    has_pexpiretime = major >= 7;  // PEXPIRETIME came with Redis 7.0
    return {};
  }

  // The notification classes scan mode needs, checked (and set) through CONFIG, or probed.
  Result<void> EnsureNotifications() {
    auto got = SourceCall({"CONFIG", "GET", "notify-keyspace-events"});
    if (!got) return MakeError(got.error());
    if (!got->is_error() && got->size() == 2) {
      const std::string flags = (*got)[1].str();
      const std::string missing = MissingNotifyClasses(flags);
      if (missing.empty()) return {};
      auto set = SourceCall({"CONFIG", "SET", "notify-keyspace-events", WithNotifyClasses(flags)});
      if (!set) return MakeError(set.error());
      if (set->is_error()) {
        return MakeError(NotifyError(missing, "CONFIG SET answered " + set->str()));
      }
      restore_notify_flags = flags;
      changed_notify_flags = true;
      spdlog::warn(
          "the source's notify-keyspace-events was \"{}\"; keyferry added \"{}\" for scan mode "
          "and sets it back when the sync ends",
          flags, missing);
      return {};
    }
    spdlog::info("CONFIG is refused on the source ({}); probing its keyspace notifications",
                 got->is_error() ? got->str() : std::string("unexpected answer"));
    return Probe();
  }

  Error NotifyError(const std::string& missing, const std::string& why) {
    return Error{make_error_code(SyncErrc::kBadOption),
                 "the source " + options.source.Endpoint() +
                     "'s notify-keyspace-events lacks the classes \"" + missing + "\" (" + why +
                     "). Scan mode follows changes through keyspace notifications: set "
                     "notify-keyspace-events to \"KEA\" (at least \"" +
                     std::string(kScanNotifyClasses) +
                     "\") in the service's parameter group or configuration, and run again"};
  }

  // Writes one key of each type under kProbePrefix and waits for their events: each class
  // scan mode needs raises one (the expired event comes when the expired key is touched).
  Result<void> Probe() {
    KF_RETURN_IF_ERROR(subscriber.Start());
    // On a cluster primary every probe key must lie in a slot it serves (another would be
    // answered MOVED), and the one DEL of them in one slot: a hash tag of an owned slot,
    // the smallest decimal number that hashes into one.
    std::string tag;
    for (int i = 0; shard() && tag.empty() && i < 1000000; ++i) {
      if (OwnsKey(std::to_string(i))) tag = "{" + std::to_string(i) + "}:";
    }
    const std::string p =
        std::string(kProbePrefix) + tag + target::NewMigrationId().substr(0, 8) + ":";
    struct Expect {
      char cls;
      std::string key;
      std::string event;
    };
    const std::vector<Expect> expects = {
        {'$', p + "s", "set"},  {'l', p + "l", "rpush"},   {'s', p + "set", "sadd"},
        {'h', p + "h", "hset"}, {'z', p + "z", "zadd"},    {'t', p + "t", "xadd"},
        {'g', p + "s", "del"},  {'x', p + "x", "expired"},
    };
    const std::vector<std::vector<std::string>> writes = {
        {"SELECT", "0"},
        {"SET", p + "s", "1"},
        {"RPUSH", p + "l", "a"},
        {"SADD", p + "set", "a"},
        {"HSET", p + "h", "f", "v"},
        {"ZADD", p + "z", "1", "a"},
        {"XADD", p + "t", "*", "f", "v"},
        {"SET", p + "x", "1", "PX", "1"},
        {"DEL", p + "s", p + "l", p + "set", p + "h", p + "z", p + "t"}};
    auto wrote = source.CallPipelined(writes);
    source_selected = 0;
    if (!wrote) return MakeError(wrote.error());
    for (const auto& r : *wrote) {
      if (r.is_error()) {
        return MakeError(SyncErrc::kBadOption,
                         "probing the source's keyspace notifications (CONFIG is refused) "
                         "writes a few keys under " +
                             std::string(kProbePrefix) + ", and the source answered " + r.str() +
                             ". Allow that, or allow CONFIG GET so keyferry can read "
                             "notify-keyspace-events");
      }
    }
    std::this_thread::sleep_for(milliseconds(20));
    (void)SourceCall({"GET", p + "x"});  // touching the expired key raises `expired`
    const uint64_t fence = subscriber.RequestFence();
    const auto deadline = Clock::now() + milliseconds(3000);
    while (Clock::now() < deadline && !subscriber.FenceReached(fence) && !subscriber.lost()) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    if (subscriber.lost()) return MakeError(SyncErrc::kBadOption, subscriber.lost_reason());
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& e : subscriber.probe_events()) seen.insert({e.key, e.event});
    std::string missing;
    if (seen.empty()) missing.push_back('K');
    for (const auto& e : expects) {
      if (!seen.count({e.key, e.event})) missing.push_back(e.cls);
    }
    if (!missing.empty()) {
      return MakeError(NotifyError(missing, "a probe's writes raised no such events"));
    }
    spdlog::info(
        "the source's keyspace notifications carry every class scan mode needs (the evicted "
        "class, e, cannot be probed)");
    return {};
  }

  Result<void> PrepareTarget() {
    filter = KeyFilter(options.match, options.exclude);
    auto map = DbMap::Parse(options.db_map);
    if (!map) return MakeError(map.error());
    db_map = *map;
    auto opened = target::OpenWriter(options.target);
    if (!opened) return MakeError(opened.error());
    writer = std::move(*opened);
    KF_RETURN_IF_ERROR(writer->Connect());
    if (writer->is_cluster()) landing.set_single_db(writer->Describe());
    auto version = TargetRdbVersion(*writer);
    if (!version) return MakeError(version.error());
    KF_RETURN_IF_ERROR(RefuseEvictingTarget(*writer));
    auto keys = shard() ? Result<uint64_t>(0) : TargetKeyCount(*writer);
    if (!keys) return MakeError(keys.error());
    if (*keys > 0 && !options.flush_target) {
      return MakeError(SyncErrc::kTargetNotEmpty,
                       "the target " + writer->Describe() + " already holds " +
                           std::to_string(*keys) +
                           " keys; scan mode copies into an empty target (it cannot resume). "
                           "Empty it, point keyferry at another one, or pass --flush-target");
    }
    if (!shard() && (*keys > 0 || options.flush_target)) KF_RETURN_IF_ERROR(EmptyTarget(*writer));
    evicted_baseline = TargetEvictedKeys(*writer);
    target::LaneOptions lo;
    lo.lanes = options.writers;
    lo.client.client_name = "keyferry-scan-writer";
    lanes = writer->NewSnapshotLanes(lo);
    KF_RETURN_IF_ERROR(lanes->Start());
    SnapshotSinkOptions so;
    if (!writer->supports_mset()) so.mset_pairs = 0;
    so.target_rdb_version = *version;
    so.on_unsupported = options.on_unsupported;
    sink = std::make_unique<SnapshotSink>(lanes.get(), &filter, &landing, so);
    rdb::ReaderOptions ro;
    ro.big_value_bytes = options.big_key_threshold;
    reader = std::make_unique<rdb::RdbReader>(sink.get(), ro);
    // The synthetic stream's header: the source's own RDB version (its DUMP payloads'
    // encodings are that version's).
    char header[16];
    std::snprintf(header, sizeof header, "REDIS%04d", rdb_version);
    return Feed(AsBytes(std::string_view(header, 9)));
  }

  Result<void> Feed(ByteView bytes) {
    auto fed = reader->Feed(bytes);
    if (!fed) {
      return MakeError(fed.error().code, "a DUMP payload from the source could not be read: " +
                                             fed.error().ToString());
    }
    if (sink->error()) return MakeError(*sink->error());
    stats->keys_written = sink->keys_written();
    stats->keys_skipped = sink->keys_skipped();
    stats->snapshot_keys = sink->keys_written() + sink->keys_skipped();
    return {};
  }

  Result<void> CopyFunctions() {
    auto listed = SourceCall({"FUNCTION", "LIST", "WITHCODE"});
    if (!listed) return MakeError(listed.error());
    if (listed->is_error()) {
      spdlog::info("the source answered FUNCTION LIST with {}: no function libraries copied",
                   listed->str());
      return {};
    }
    rdb::RdbWriter w;
    for (const auto& entry : listed->children()) {
      const resp::Reply* code = Field(entry, "library_code");
      if (code == nullptr) continue;
      w.WriteByte(kOpFunction2);
      w.WriteString(code->str());
    }
    return Feed(w.bytes());
  }

  // One primary of a cluster source (RunClusterScanSync): the target is shared.
  bool shard() const { return !options.owned_slots.empty(); }
  bool OwnsKey(std::string_view key) const {
    if (!shard()) return true;
    const int slot = net::KeySlot(key);
    for (const auto& r : options.owned_slots) {
      if (r.Contains(slot)) return true;
    }
    return false;
  }

  Result<void> SelectSource(int db) {
    if (db == source_selected) return {};
    auto r = SourceCall({"SELECT", std::to_string(db)});
    if (!r) return MakeError(r.error());
    if (r->is_error()) {
      return MakeError(SyncErrc::kBadOption, "SELECT " + std::to_string(db) + " on the source " +
                                                 options.source.Endpoint() + ": " + r->str());
    }
    source_selected = db;
    return {};
  }

  // Reads `keys` of `db` from the source and copies them; a key that is gone is deleted on
  // the target when `delete_missing` (a notified key), else skipped (it vanished mid-scan).
  Result<void> CopyKeys(int db, const std::vector<std::string>& keys, bool delete_missing) {
    if (keys.empty()) return {};
    KF_RETURN_IF_ERROR(SelectSource(db));
    std::vector<std::vector<std::string>> reads;
    reads.reserve(keys.size() * 2);
    for (const auto& k : keys) {
      reads.push_back({"DUMP", k});
      reads.push_back({has_pexpiretime ? "PEXPIRETIME" : "PTTL", k});
    }
    auto replies = source.CallPipelined(reads);
    if (!replies) return MakeError(replies.error());
    const int64_t now = UnixMillis();
    rdb::RdbWriter w;
    std::vector<std::string> gone;
    for (size_t i = 0; i < keys.size(); ++i) {
      const resp::Reply& dump = (*replies)[2 * i];
      const resp::Reply& ttl = (*replies)[2 * i + 1];
      if (dump.is_error() || ttl.is_error()) {
        return MakeError(
            SyncErrc::kBadOption,
            "reading " + keys[i] + " (db " + std::to_string(db) +
                ") from the source failed: " + (dump.is_error() ? dump.str() : ttl.str()) +
                "; scan mode needs DUMP and PEXPIRETIME (or PTTL) on every key");
      }
      if (dump.is_null()) {
        gone.push_back(keys[i]);
        continue;
      }
      ByteView payload = dump.bytes();
      if (payload.size() < 11) {
        return MakeError(SyncErrc::kBadOption, "the source's DUMP of " + keys[i] +
                                                   " is too short to be a payload (" +
                                                   std::to_string(payload.size()) + " bytes)");
      }
      const size_t body = payload.size() - 8;
      uint64_t stored = 0;
      for (int b = 7; b >= 0; --b) stored = (stored << 8) | payload[body + static_cast<size_t>(b)];
      if (rdb::Crc64(0, payload.first(body)) != stored) {
        return MakeError(SyncErrc::kBadOption, "the source's DUMP of " + keys[i] + " (db " +
                                                   std::to_string(db) +
                                                   ") fails its CRC64 check; run again");
      }
      int64_t expire_ms = -1;
      if (has_pexpiretime) {
        expire_ms = ttl.integer() >= 0 ? ttl.integer() : -1;
      } else if (ttl.integer() >= 0) {
        expire_ms = now + ttl.integer();
      }
      if (db != stream_db) {
        w.WriteByte(kOpSelectDb);
        w.WriteLength(static_cast<uint64_t>(db));
        stream_db = db;
      }
      if (expire_ms >= 0) {
        w.WriteByte(kOpExpireMs);
        w.WriteMillis(expire_ms);
      }
      w.WriteByte(payload[0]);  // the type
      w.WriteString(std::string_view(keys[i]));
      w.WriteRaw(payload.subspan(1, payload.size() - 11));  // the value, without the footer
    }
    KF_RETURN_IF_ERROR(Feed(w.bytes()));
    if (delete_missing && !gone.empty()) {
      sink->Flush();  // a pending MSET of one of these keys goes before its DEL
      if (sink->error()) return MakeError(*sink->error());
      auto landed = landing.Land(db);
      if (!landed) return MakeError(landed.error());
      for (const auto& k : gone) {
        if (!filter.Accepts(k) || target::IsAppliedMarkerKey(k)) continue;
        resp::CommandEncoder del;
        del.Add({"DEL", k});
        target::WriteOp op;
        op.db = *landed;
        op.command = del.ToBytes();
        op.description = "DEL " + k + " (db " + std::to_string(*landed) + ")";
        KF_RETURN_IF_ERROR(lanes->Submit(lanes->LaneFor(*landed, AsBytes(k)), std::move(op)));
        ++deleted;
      }
    }
    return {};
  }

  // Every db the source's INFO keyspace lists.
  Result<std::vector<int>> SourceDbs() {
    auto info = SourceCall({"INFO", "keyspace"});
    if (!info) return MakeError(info.error());
    std::vector<int> dbs;
    std::istringstream lines(info->str());
    std::string line;
    while (std::getline(lines, line)) {
      int db = -1;
      if (line.rfind("db", 0) != 0) continue;
      std::from_chars(line.data() + 2, line.data() + line.size(), db);
      if (db >= 0) dbs.push_back(db);
    }
    return dbs;
  }

  // SCAN every db of the source and copy every key.
  Result<void> CopyEverything() {
    auto dbs = SourceDbs();
    if (!dbs) return MakeError(dbs.error());
    for (int db : *dbs) {
      KF_RETURN_IF_ERROR(SelectSource(db));
      std::string cursor = "0";
      do {
        if (stop) return {};
        auto page = SourceCall({"SCAN", cursor, "COUNT", std::to_string(kScanCount)});
        if (!page) return MakeError(page.error());
        if (page->is_error() || page->size() != 2) {
          return MakeError(SyncErrc::kBadOption, "SCAN on the source " + options.source.Endpoint() +
                                                     " failed: " + page->ToString());
        }
        cursor = (*page)[0].str();
        std::vector<std::string> keys;
        for (const auto& k : (*page)[1].children()) {
          if (!target::IsAppliedMarkerKey(k.str()) && !IsProbeKey(k.str())) {
            keys.push_back(k.str());
          }
        }
        KF_RETURN_IF_ERROR(CopyKeys(db, keys, false));
        KF_RETURN_IF_ERROR(Tick());
      } while (cursor != "0");
    }
    return {};
  }

  // After lost notifications: the target keys the source no longer has are deleted.
  Result<void> DeleteExtras() {
    auto topology = net::ReadClusterTopology(options.target);
    if (!topology) return MakeError(topology.error());
    std::vector<net::Uri> nodes;
    if (*topology) {
      for (const auto& shard : (*topology)->shards) {
        if (!shard.slots.empty()) nodes.push_back(net::NodeUri(options.target, shard.primary));
      }
    } else {
      nodes.push_back(options.target);
    }
    std::map<int, int> source_of;  // target db → source db
    for (int db = 0; db < 16; ++db) source_of.emplace(db_map.Map(db), db);
    for (const auto& node : nodes) {
      net::Client t;
      KF_RETURN_IF_ERROR(t.Connect(node));
      auto info = t.Call({"INFO", "keyspace"});
      if (!info) return MakeError(info.error());
      std::istringstream lines(info->str());
      std::string line;
      while (std::getline(lines, line)) {
        int tdb = -1;
        if (line.rfind("db", 0) != 0) continue;
        std::from_chars(line.data() + 2, line.data() + line.size(), tdb);
        auto it = source_of.find(tdb);
        if (tdb < 0 || it == source_of.end()) continue;
        auto selected = t.Call({"SELECT", std::to_string(tdb)});
        if (!selected) return MakeError(selected.error());
        std::string cursor = "0";
        do {
          auto page = t.Call({"SCAN", cursor, "COUNT", std::to_string(kScanCount)});
          if (!page) return MakeError(page.error());
          if (page->size() != 2) break;
          cursor = (*page)[0].str();
          std::vector<std::string> keys;
          for (const auto& k : (*page)[1].children()) {
            if (filter.Accepts(k.str()) && !target::IsAppliedMarkerKey(k.str()) &&
                OwnsKey(k.str())) {
              keys.push_back(k.str());
            }
          }
          if (keys.empty()) continue;
          KF_RETURN_IF_ERROR(SelectSource(it->second));
          std::vector<std::vector<std::string>> checks;
          for (const auto& k : keys) checks.push_back({"EXISTS", k});
          auto exists = source.CallPipelined(checks);
          if (!exists) return MakeError(exists.error());
          // A key the source lacks now: read it again through the normal path, which
          // deletes it on the target in its lane (and copies it if it came back).
          std::vector<std::string> missing;
          for (size_t i = 0; i < keys.size(); ++i) {
            if ((*exists)[i].integer() == 0) missing.push_back(keys[i]);
          }
          KF_RETURN_IF_ERROR(CopyKeys(it->second, missing, true));
        } while (cursor != "0");
      }
    }
    return {};
  }

  // One round of following: the notified keys, copied again. Returns how many.
  // (On a cluster primary every notified key is its own.)
  Result<size_t> FollowRound() {
    auto keys = subscriber.Take(kFollowBatch);
    if (keys.empty()) return 0;
    std::map<int, std::vector<std::string>> by_db;
    for (auto& [db, key] : keys) {
      if (!target::IsAppliedMarkerKey(key)) by_db[db].push_back(std::move(key));
    }
    for (auto& [db, list] : by_db) KF_RETURN_IF_ERROR(CopyKeys(db, list, true));
    sink->Flush();
    if (sink->error()) return MakeError(*sink->error());
    auto drained = lanes->Drain();  // hands small rounds to the target now
    if (!drained) return MakeError(drained.error());
    if (stats->recent_keys.capacity() > 0) {
      std::vector<std::pair<int, std::string>> written;
      for (auto& [db, list] : by_db) {
        for (auto& key : list) written.emplace_back(db, std::move(key));
      }
      stats->recent_keys.Add(written);
    }
    recopied += keys.size();
    stats->commands_applied = recopied;
    return keys.size();
  }

  Result<void> Tick() {
    int64_t now = TargetEvictedKeys(*writer);
    if (evicted_baseline >= 0 && now > evicted_baseline) {
      return MakeError(SyncErrc::kTargetDropped,
                       "the target " + writer->Describe() + " evicted " +
                           std::to_string(now - evicted_baseline) +
                           " keys during the sync: the copy is not complete. Give it more "
                           "memory and maxmemory-policy noeviction, then run again");
    }
    return {};
  }

  std::optional<UnnotifiedWriteCalls> ReadUnnotifiedWriteCalls() {
    auto info = SourceCall({"INFO", "commandstats"});
    if (!info || info->is_error()) return std::nullopt;
    return ParseUnnotifiedWriteCalls(info->str());
  }

  // FLUSHDB, FLUSHALL and SWAPDB send no keyspace notification: when the source ran one
  // since the last look (its INFO commandstats calls moved, either way: CONFIG RESETSTAT
  // could hide one), every key is copied again and the target's keys the source no longer
  // has are deleted, as after lost notifications. A FUNCTION LOAD/DELETE/FLUSH/RESTORE
  // ends the run: libraries are copied once, at the start. True when it copied again.
  Result<bool> FollowUnnotifiedWrites() {
    auto now = ReadUnnotifiedWriteCalls();
    if (!now) {
      return MakeError(SyncErrc::kSourceChanged,
                       "INFO commandstats stopped answering on the source " +
                           options.source.Endpoint() +
                           ": scan mode can no longer see FLUSHDB, FLUSHALL or SWAPDB; run "
                           "it again");
    }
    if (now->functions != unnotified_baseline.functions) {
      return MakeError(SyncErrc::kSourceChanged,
                       "the function libraries of the source " + options.source.Endpoint() +
                           " changed during the sync (FUNCTION LOAD, DELETE, FLUSH or RESTORE "
                           "in INFO commandstats), which sends no keyspace notification; scan "
                           "mode copies libraries once, at the start: run it again once they "
                           "are settled");
    }
    if (now->whole_db == unnotified_baseline.whole_db) return false;
    unnotified_baseline = *now;
    spdlog::warn(
        "the source ran FLUSHDB, FLUSHALL or SWAPDB (INFO commandstats), which send no keyspace "
        "notification: copying every key again and deleting the target's keys the source no "
        "longer has");
    KF_RETURN_IF_ERROR(CopyEverything());
    KF_RETURN_IF_ERROR(DeleteExtras());
    sink->Flush();
    if (sink->error()) return MakeError(*sink->error());
    auto drained = lanes->Drain();
    if (!drained) return MakeError(drained.error());
    spdlog::info("copy after FLUSHDB/FLUSHALL/SWAPDB done");
    return true;
  }

  // Notifications were lost: subscribe again, copy everything again, delete extras.
  Result<void> RecoverLostNotifications() {
    spdlog::warn(
        "keyspace notifications were lost ({}): keys changed in the gap are unknown; "
        "subscribing again, then copying every key again and deleting the target's keys the "
        "source no longer has",
        subscriber.lost_reason());
    ++stats->link_drops;
    KF_RETURN_IF_ERROR(subscriber.Start());
    KF_RETURN_IF_ERROR(CopyEverything());
    KF_RETURN_IF_ERROR(DeleteExtras());
    sink->Flush();
    auto drained = lanes->Drain();
    if (!drained) return MakeError(drained.error());
    spdlog::info("re-scan after lost notifications done");
    return {};
  }

  Result<void> Finish() {
    std::vector<uint8_t> eof(9, 0);
    eof[0] = kOpEof;
    KF_RETURN_IF_ERROR(Feed(ByteView(eof.data(), eof.size())));
    auto finished = reader->Finish();
    if (!finished) return MakeError(finished.error());
    sink->Flush();
    if (sink->error()) return MakeError(*sink->error());
    auto drained = lanes->Drain();
    if (!drained) return MakeError(drained.error());
    // Evictions since the last once-a-second look would otherwise end the run well.
    return Tick();
  }

  void RestoreNotifyFlags() {
    if (!changed_notify_flags) return;
    net::Client c;
    if (c.Connect(options.source)) {
      auto r = c.Call({"CONFIG", "SET", "notify-keyspace-events", restore_notify_flags});
      if (r && !r->is_error()) {
        spdlog::info("set the source's notify-keyspace-events back to \"{}\"",
                     restore_notify_flags);
        return;
      }
    }
    spdlog::warn(
        "could not set the source's notify-keyspace-events back to \"{}\"; set it by "
        "hand",
        restore_notify_flags);
  }

  Result<void> Run() {
    stats->phase = static_cast<int>(SyncPhase::kConnecting);
    KF_RETURN_IF_ERROR(ConnectSource());
    KF_RETURN_IF_ERROR(EnsureNotifications());
    KF_RETURN_IF_ERROR(subscriber.Start());  // before the copy: no change goes unseen
    // Before the copy too. Without it a FLUSHDB, FLUSHALL or SWAPDB would go unseen and the
    // target keep keys the source dropped: refused, not warned about.
    auto calls = ReadUnnotifiedWriteCalls();
    if (!calls) {
      return MakeError(SyncErrc::kBadOption,
                       "the source " + options.source.Endpoint() +
                           " refuses INFO commandstats, which scan mode reads to see FLUSHDB, "
                           "FLUSHALL, SWAPDB and FUNCTION changes (they send no keyspace "
                           "notification); allow INFO for keyferry's user (ACL +info), then run "
                           "it again. Nothing was written to the target");
    }
    unnotified_baseline = *calls;
    KF_RETURN_IF_ERROR(PrepareTarget());
    stats->phase = static_cast<int>(SyncPhase::kSnapshot);
    if (auto keyspace = SourceCall({"INFO", "keyspace"}); keyspace && !keyspace->is_error()) {
      stats->snapshot_keys_estimate = net::KeyspaceKeyCount(keyspace->str());
    }
    auto start = Clock::now();
    KF_RETURN_IF_ERROR(CopyFunctions());
    KF_RETURN_IF_ERROR(CopyEverything());
    sink->Flush();
    if (sink->error()) return MakeError(*sink->error());
    auto drained = lanes->Drain();
    if (!drained) return MakeError(drained.error());
    stats->snapshot_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
    spdlog::info("scan copy done: {} keys ({} skipped) in {} ms; following notifications",
                 sink->keys_written(), sink->keys_skipped(), stats->snapshot_ms.load());
    stats->phase = static_cast<int>(SyncPhase::kStream);
    const uint64_t fence = options.once ? subscriber.RequestFence() : 0;
    auto last_tick = Clock::now();
    uint64_t drain_for = 0;    // the RequestDrain token being served
    uint64_t drain_fence = 0;  // and the fence sent for it
    for (;;) {
      if (subscriber.lost()) KF_RETURN_IF_ERROR(RecoverLostNotifications());
      if (const uint64_t want = drain_requested->load(); want > drain_for) {
        drain_for = want;
        drain_fence = subscriber.RequestFence();
      }
      auto copied = FollowRound();
      if (!copied) return MakeError(copied.error());
      *pending_keys = subscriber.pending();
      // Every key notified before the fence was taken by an earlier round, copied and
      // answered (each round drains the lanes), once a round after the fence finds none —
      // and no FLUSHDB/FLUSHALL/SWAPDB ran that notifications cannot show.
      if (drain_for > drain_done->load() && subscriber.FenceReached(drain_fence) && *copied == 0 &&
          subscriber.pending() == 0) {
        auto recopied_all = FollowUnnotifiedWrites();
        if (!recopied_all) return MakeError(recopied_all.error());
        if (!*recopied_all) *drain_done = drain_for;
      }
      if (Clock::now() - last_tick >= milliseconds(1000)) {
        last_tick = Clock::now();
        KF_RETURN_IF_ERROR(Tick());
        auto recopied_all = FollowUnnotifiedWrites();
        if (!recopied_all) return MakeError(recopied_all.error());
      }
      if (stop) break;
      if (options.once && subscriber.FenceReached(fence) && subscriber.pending() == 0 &&
          *copied == 0) {
        auto recopied_all = FollowUnnotifiedWrites();
        if (!recopied_all) return MakeError(recopied_all.error());
        if (!*recopied_all) break;
      }
      if (*copied == 0) std::this_thread::sleep_for(milliseconds(10));
    }
    KF_RETURN_IF_ERROR(Finish());
    spdlog::info("scan sync ends: {} keys copied, {} notified keys copied again, {} deleted",
                 sink->keys_written(), recopied, deleted);
    return {};
  }
};

ScanSync::ScanSync(SyncOptions options, SyncStats* stats)
    : options_(std::move(options)), stats_(stats) {}
ScanSync::~ScanSync() = default;

Result<void> ScanSync::Run(const std::atomic<bool>& stop) {
  Impl impl(options_, stats_, stop);
  impl.drain_requested = &drain_requested_;
  impl.drain_done = &drain_done_;
  impl.pending_keys = &pending_keys_;
  auto result = impl.Run();
  impl.subscriber.Stop();
  impl.RestoreNotifyFlags();
  stats_->phase = static_cast<int>(result ? SyncPhase::kDone : SyncPhase::kFailed);
  return result;
}

ClusterScanSync::ClusterScanSync(SyncOptions options, net::ClusterTopology topology,
                                 SyncStats* stats, std::vector<SyncStats*> per_shard)
    : options_(std::move(options)),
      topology_(std::move(topology)),
      stats_(stats),
      shards_(PlanShardSyncs(options_, topology_)),
      shard_stats_(std::move(per_shard)) {
  if (shard_stats_.empty()) {
    for (size_t i = 0; i < shards_.size(); ++i) {
      own_stats_.push_back(std::make_unique<SyncStats>());
      shard_stats_.push_back(own_stats_.back().get());
    }
  }
  for (size_t i = 0; i < shards_.size() && i < shard_stats_.size(); ++i) {
    engines_.push_back(std::make_unique<ScanSync>(shards_[i].options, shard_stats_[i]));
  }
}

ClusterScanSync::~ClusterScanSync() = default;

uint64_t ClusterScanSync::RequestDrain() {
  std::lock_guard lock(drain_mu_);
  std::vector<uint64_t> tokens;
  for (auto& engine : engines_) tokens.push_back(engine->RequestDrain());
  drains_.push_back(std::move(tokens));
  return drains_.size();
}

bool ClusterScanSync::Drained(uint64_t token) const {
  std::lock_guard lock(drain_mu_);
  if (token == 0 || token > drains_.size()) return false;
  const std::vector<uint64_t>& tokens = drains_[token - 1];
  for (size_t i = 0; i < engines_.size(); ++i) {
    if (!engines_[i]->Drained(tokens[i])) return false;
  }
  return true;
}

uint64_t ClusterScanSync::pending_keys() const {
  uint64_t sum = 0;
  for (const auto& engine : engines_) sum += engine->pending_keys();
  return sum;
}

Result<void> ClusterScanSync::Run(const std::atomic<bool>& stop) {
  stats_->started_ms = UnixMillis();
  auto fail = [&](Error e) -> Result<void> {
    stats_->phase = static_cast<int>(SyncPhase::kFailed);
    return MakeError(std::move(e));
  };
  if (shards_.empty()) {
    return fail(Error{make_error_code(SyncErrc::kClusterNotReady),
                      "the source cluster has no primary serving slots; nothing to copy"});
  }
  if (engines_.size() != shards_.size()) {
    return fail(Error{make_error_code(SyncErrc::kClusterNotReady),
                      "the cluster of the source " + options_.source.Endpoint() + " has " +
                          std::to_string(shards_.size()) + " primaries serving slots, not the " +
                          std::to_string(shard_stats_.size()) +
                          " it had when the migration read it; run again"});
  }
  // The target, checked and emptied once for every engine.
  {
    auto opened = target::OpenWriter(options_.target);
    if (!opened) return fail(opened.error());
    target::Writer& writer = **opened;
    if (auto c = writer.Connect(); !c) return fail(c.error());
    auto keys = TargetKeyCount(writer);
    if (!keys) return fail(keys.error());
    if (*keys > 0 && !options_.flush_target) {
      return fail(Error{make_error_code(SyncErrc::kTargetNotEmpty),
                        "the target " + writer.Describe() + " already holds " +
                            std::to_string(*keys) +
                            " keys; scan mode copies into an empty target (it cannot resume). "
                            "Empty it, point keyferry at another one, or pass --flush-target"});
    }
    if (*keys > 0 || options_.flush_target) {
      if (auto emptied = EmptyTarget(writer); !emptied) return fail(emptied.error());
    }
  }
  std::string names;
  for (const auto& s : shards_) {
    names += (names.empty() ? "" : ", ") + s.name + " at " + s.options.source.Endpoint();
  }
  spdlog::info("scan mode from a cluster source: {} primaries: {}", shards_.size(), names);
  return RunShardEngines(
      shards_, shard_stats_, stats_,
      [this](size_t i, const std::atomic<bool>& stop_engine) {
        return engines_[i]->Run(stop_engine);
      },
      [this] { return ReshardSince(options_.source, topology_); }, milliseconds(2000), stop);
}

Result<void> RunClusterScanSync(const SyncOptions& options, const net::ClusterTopology& topology,
                                SyncStats* stats, const std::atomic<bool>& stop) {
  ClusterScanSync cluster(options, topology, stats);
  return cluster.Run(stop);
}

}  // namespace kf::sync
