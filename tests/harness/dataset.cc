// Seeding, writing and canonical comparison for integration tests (see dataset.h).
#include "harness/dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <sstream>

#include "common/bytes.h"
#include "net/client.h"
#include "rdb/reader.h"
#include "target/applied_marker.h"

namespace kf::test {
namespace {

using Cmd = std::vector<std::string>;

void RunAll(net::Client& client, const std::vector<Cmd>& commands) {
  for (size_t i = 0; i < commands.size(); i += 500) {
    std::vector<Cmd> chunk(
        commands.begin() + static_cast<long>(i),
        commands.begin() + static_cast<long>(std::min(i + 500, commands.size())));
    auto replies = client.CallPipelined(chunk);
    ASSERT_TRUE(replies) << replies.error().ToString();
    for (size_t j = 0; j < replies->size(); ++j) {
      ASSERT_FALSE((*replies)[j].is_error())
          << chunk[j][0] << " " << (chunk[j].size() > 1 ? chunk[j][1] : "") << ": "
          << (*replies)[j].str();
    }
  }
}

std::string Bin(int i) {
  std::string s = "bin";
  s.push_back('\0');
  s.push_back(static_cast<char>(i & 0xff));
  s += "\r\n\xff";
  return s;
}

const char kSeedLibrary[] =
    "#!lua name=kflib\n"
    "redis.register_function('kf_echo', function(keys, args) return args[1] end)\n";

std::vector<Cmd> SeedCommands(const SeedOptions& o, int db) {
  const std::string p = o.prefix + "db" + std::to_string(db) + ":";
  std::vector<Cmd> c;
  const int64_t far_future = 4102444800000LL;  // 2100-01-01
  c.push_back({"SELECT", std::to_string(db)});
  // Strings.
  c.push_back({"SET", p + "str:int", "12345"});
  c.push_back({"SET", p + "str:neg", "-9007199254740993"});
  c.push_back({"SET", p + "str:empty", ""});
  c.push_back({"SET", p + "str:bin", Bin(7)});
  c.push_back({"SET", p + "str:float", "3.14159265358979"});
  c.push_back({"SET", p + "str:lzf", std::string(20000, 'a') + "tail"});
  std::mt19937 rng(db + 1);
  std::string random(32768, '\0');
  for (auto& ch : random) ch = static_cast<char>(rng());
  c.push_back({"SET", p + "str:random", random});
  c.push_back({"SET", std::string(3000, 'K') + p, "long key name"});
  // Lists.
  c.push_back({"RPUSH", p + "list:small", "a", "b", Bin(1), "1", "-2"});
  for (int i = 0; i < 5 * o.scale; ++i) {
    Cmd push = {"RPUSH", p + "list:big"};
    for (int j = 0; j < 1000; ++j) push.push_back("element-" + std::to_string(i * 1000 + j));
    c.push_back(push);
  }
  c.push_back(
      {"RPUSH", p + "list:plain", std::string(10000, 'x'), "small", std::string(9000, 'y')});
  // Sets.
  c.push_back({"SADD", p + "set:intset", "1", "2", "3", "-100", "99999999"});
  c.push_back({"SADD", p + "set:small", "a", "b", Bin(2)});
  Cmd bigset = {"SADD", p + "set:big"};
  for (int i = 0; i < 2000 * o.scale; ++i) bigset.push_back("member-" + std::to_string(i));
  c.push_back(bigset);
  // Zsets.
  c.push_back({"ZADD", p + "zset:small", "1", "a", "2.5", "b", "-0", "negzero", "inf", "top",
               "-inf", "bottom"});
  Cmd bigzset = {"ZADD", p + "zset:big"};
  for (int i = 0; i < 1000 * o.scale; ++i) {
    bigzset.push_back(i % 3 == 0 ? "1e-07" : (i % 3 == 1 ? "5e-324" : std::to_string(i) + ".125"));
    bigzset.push_back("m" + std::to_string(i));
  }
  bigzset.insert(bigzset.end(), {"1e300", "huge", "0.1", "tenth"});
  c.push_back(bigzset);
  c.push_back({"GEOADD", p + "geo", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669",
               "Catania"});
  // Hashes.
  c.push_back({"HSET", p + "hash:small", "f1", "v1", "f2", "2", Bin(3), Bin(4)});
  Cmd bighash = {"HSET", p + "hash:big"};
  for (int i = 0; i < 1500 * o.scale; ++i) {
    bighash.push_back("field-" + std::to_string(i));
    bighash.push_back("value-" + std::to_string(i * 7));
  }
  c.push_back(bighash);
  c.push_back({"HSET", p + "hash:bigvalue", "f", std::string(10000, 'v')});
  // HyperLogLog and bitmap (strings).
  c.push_back({"PFADD", p + "hll:sparse", "a", "b", "c"});
  Cmd hll = {"PFADD", p + "hll:dense"};
  for (int i = 0; i < 5000; ++i) hll.push_back("e" + std::to_string(i));
  c.push_back(hll);
  c.push_back({"SETBIT", p + "bitmap", "100000", "1"});
  // Streams with groups, consumers and pending entries.
  for (int i = 1; i <= 30; ++i) {
    c.push_back({"XADD", p + "stream", "1700000000000-" + std::to_string(i), "f",
                 "v" + std::to_string(i), "n", std::to_string(i)});
  }
  c.push_back({"XDEL", p + "stream", "1700000000000-5"});
  c.push_back({"XGROUP", "CREATE", p + "stream", "g1", "0"});
  c.push_back({"XGROUP", "CREATE", p + "stream", "g2", "1700000000000-10"});
  c.push_back({"XREADGROUP", "GROUP", "g1", "alice", "COUNT", "4", "STREAMS", p + "stream", ">"});
  c.push_back({"XREADGROUP", "GROUP", "g1", "bob", "COUNT", "3", "STREAMS", p + "stream", ">"});
  c.push_back({"XACK", p + "stream", "g1", "1700000000000-2"});
  // Fixed delivery times (XREADGROUP stamps the server's clock), so that two deployments
  // seeded apart (a cluster and a standalone) hold equal pending entries.
  for (const auto& [consumer, ids] : std::vector<std::pair<std::string, std::vector<int>>>{
           {"alice", {1, 3, 4}}, {"bob", {6, 7, 8}}}) {
    Cmd claim = {"XCLAIM", p + "stream", "g1", consumer, "0"};
    for (int id : ids) claim.push_back("1700000000000-" + std::to_string(id));
    for (const char* arg : {"TIME", "1700000001000", "JUSTID"}) claim.push_back(arg);
    c.push_back(claim);
  }
  c.push_back({"XGROUP", "CREATE", p + "stream:empty", "g", "$", "MKSTREAM"});
  // Millisecond expiries on about one key in seven.
  c.push_back({"PEXPIREAT", p + "str:int", std::to_string(far_future + 123)});
  c.push_back({"PEXPIREAT", p + "hash:small", std::to_string(far_future + 7)});
  c.push_back({"PEXPIREAT", p + "list:small", std::to_string(far_future + 999)});
  c.push_back({"PEXPIREAT", p + "zset:small", std::to_string(far_future + 1)});
  c.push_back({"PEXPIRE", p + "str:float", "3600001"});
  return c;
}

Result<resp::Reply> Call(net::Client& client, const Cmd& args) { return client.Call(args); }

struct KeyState {
  std::string type;
  rdb::Value value;
  int64_t expire_ms = -1;
};

void Normalize(rdb::Value& v) {
  switch (v.type) {
    case rdb::ValueType::kSet:
      std::sort(v.elements.begin(), v.elements.end());
      break;
    case rdb::ValueType::kHash:
      std::sort(v.hash.begin(), v.hash.end(),
                [](const rdb::HashField& a, const rdb::HashField& b) { return a.field < b.field; });
      break;
    case rdb::ValueType::kStream:
      for (auto& g : v.stream.groups) {
        for (auto& c : g.consumers) c.seen_time_ms = c.active_time_ms = 0;
        std::sort(g.consumers.begin(), g.consumers.end(),
                  [](const auto& a, const auto& b) { return a.name < b.name; });
      }
      std::sort(v.stream.groups.begin(), v.stream.groups.end(),
                [](const auto& a, const auto& b) { return a.name < b.name; });
      break;
    default:
      break;
  }
}

using KeyMap = std::map<std::pair<int, std::string>, KeyState>;

// (db, key) → state, for every db with keys.
KeyMap ReadAll(const net::Uri& uri, std::vector<std::string>* errors) {
  KeyMap out;
  net::Client client;
  auto connected = client.Connect(uri);
  if (!connected) {
    errors->push_back("cannot connect to " + uri.Endpoint() + ": " + connected.error().ToString());
    return out;
  }
  // A cluster node answers MOVED for keys of a slot it is importing unless the read is
  // preceded by ASKING (which holds for one command).
  auto cluster_info = Call(client, {"CLUSTER", "INFO"});
  const bool cluster = cluster_info && !cluster_info->is_error();
  for (int db = 0; db < 16; ++db) {
    auto sel = Call(client, {"SELECT", std::to_string(db)});
    if (!sel || sel->is_error()) break;
    std::string cursor = "0";
    do {
      auto scan = Call(client, {"SCAN", cursor, "COUNT", "1000"});
      if (!scan || scan->is_error() || scan->size() != 2) {
        errors->push_back("SCAN failed on " + uri.Endpoint());
        return out;
      }
      cursor = (*scan)[0].str();
      std::vector<Cmd> reads;
      std::vector<std::string> keys;
      for (const auto& k : (*scan)[1].children()) {
        // keyferry's applied-offset marker is a running sync's bookkeeping, not data.
        if (target::IsAppliedMarkerKey(k.str())) continue;
        keys.push_back(k.str());
        if (cluster) reads.push_back({"ASKING"});
        reads.push_back({"DUMP", k.str()});
        if (cluster) reads.push_back({"ASKING"});
        reads.push_back({"PEXPIRETIME", k.str()});
      }
      if (reads.empty()) continue;
      auto replies = client.CallPipelined(reads);
      if (!replies) {
        errors->push_back("DUMP failed: " + replies.error().ToString());
        return out;
      }
      const size_t stride = cluster ? 4 : 2;
      for (size_t i = 0; i < keys.size(); ++i) {
        const auto& dump = (*replies)[stride * i + stride / 2 - 1];
        const auto& ttl = (*replies)[stride * i + stride - 1];
        if (dump.is_null()) continue;  // expired or deleted between SCAN and DUMP
        if (dump.is_error()) {
          errors->push_back("DUMP " + Printable(keys[i], 60) + " on " + uri.Endpoint() +
                            " answered " + dump.str());
          continue;
        }
        KeyState state;
        auto value = rdb::DecodeDumpPayload(dump.bytes());
        if (!value) {
          errors->push_back("cannot decode DUMP of " + Printable(keys[i]) + ": " +
                            value.error().ToString());
          continue;
        }
        state.value = std::move(*value);
        Normalize(state.value);
        state.type = rdb::ValueTypeName(state.value.type);
        state.expire_ms = ttl.integer();
        out[{db, keys[i]}] = std::move(state);
      }
    } while (cursor != "0");
  }
  return out;
}

// The merged content of a deployment's nodes; a key on two nodes is an error.
KeyMap ReadDeployment(const std::vector<net::Uri>& nodes, std::vector<std::string>* errors) {
  KeyMap merged;
  std::map<std::pair<int, std::string>, std::string> holder;
  for (const auto& uri : nodes) {
    for (auto& [k, state] : ReadAll(uri, errors)) {
      auto [it, inserted] = holder.emplace(k, uri.Endpoint());
      if (!inserted) {
        errors->push_back("key " + Printable(k.second, 60) + " is on two nodes, " + it->second +
                          " and " + uri.Endpoint());
        continue;
      }
      merged[k] = std::move(state);
    }
  }
  return merged;
}

std::string Functions(const net::Uri& uri) {
  net::Client client;
  if (!client.Connect(uri)) return "(unreachable)";
  auto reply = Call(client, {"FUNCTION", "LIST", "WITHCODE"});
  if (!reply || reply->is_error()) return "(error)";
  std::vector<std::string> libs;
  for (const auto& lib : reply->children()) {
    std::string name, code;
    for (size_t i = 0; i + 1 < lib.size(); i += 2) {
      if (lib[i].str() == "library_name") name = lib[i + 1].str();
      if (lib[i].str() == "library_code") code = lib[i + 1].str();
    }
    libs.push_back(name + "\n" + code);
  }
  std::sort(libs.begin(), libs.end());
  std::string joined;
  for (const auto& l : libs) joined += l + "\n--\n";
  return joined;
}

}  // namespace

net::Uri UriOf(const std::string& text) {
  auto uri = net::Uri::Parse(text);
  EXPECT_TRUE(uri) << text;
  return uri ? *uri : net::Uri{};
}

std::string JoinDiffs(const std::vector<std::string>& diffs) {
  std::string out;
  for (const auto& d : diffs) out += d + "\n";
  return out;
}

std::vector<Cmd> EveryTypeCommands(const SeedOptions& options, int db) {
  std::vector<Cmd> commands = SeedCommands(options, db);
  commands.erase(commands.begin());  // the SELECT
  return commands;
}

std::vector<std::string> SeedFunctionLoad() {
  return {"FUNCTION", "LOAD", "REPLACE", kSeedLibrary};
}

std::vector<std::vector<std::string>> EveryTypeCommandsForCompare() {
  static const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
  std::vector<std::vector<std::string>> commands = EveryTypeCommands({}, 0);
  for (auto& c : commands) {
    if (c[0] == "PEXPIRE") c = {"PEXPIREAT", c[1], std::to_string(now_ms + std::stoll(c[2]))};
  }
  commands.push_back(SeedFunctionLoad());
  return commands;
}

void SeedEveryType(const net::Uri& uri, const SeedOptions& options) {
  net::Client client;
  auto connected = client.Connect(uri);
  ASSERT_TRUE(connected) << connected.error().ToString();
  for (int db : {0, 3, 15}) {
    RunAll(client, SeedCommands(options, db));
    if (::testing::Test::HasFatalFailure()) return;
  }
  if (options.functions) {
    auto loaded = Call(client, {"FUNCTION", "LOAD", "REPLACE", kSeedLibrary});
    ASSERT_TRUE(loaded);
    ASSERT_FALSE(loaded->is_error()) << loaded->str();
  }
}

Writer::Writer(net::Uri uri, int writes_per_batch)
    : uri_(std::move(uri)), writes_per_batch_(writes_per_batch) {
  thread_ = std::thread([this] { Run(); });
}

Writer::~Writer() { Stop(); }

void Writer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Writer::Run() {
  net::Client client;
  auto connected = client.Connect(uri_);
  if (!connected) {
    error_ = connected.error().ToString();
    return;
  }
  std::mt19937 rng(7);
  uint64_t n = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (!stop_ && std::chrono::steady_clock::now() < deadline) {
    std::vector<Cmd> batch;
    int db = (n % 2 == 0) ? 0 : 3;
    batch.push_back({"SELECT", std::to_string(db)});
    for (int i = 0; i < writes_per_batch_; ++i, ++n) {
      std::string id = std::to_string(rng() % 200);
      switch (n % 12) {
        case 0:
          batch.push_back({"SET", "w:str:" + id, "v" + std::to_string(n)});
          break;
        case 1:
          batch.push_back({"INCR", "w:counter:" + id});
          break;
        case 2:
          batch.push_back({"RPUSH", "w:list:" + id, std::to_string(n)});
          break;
        case 3:
          batch.push_back({"LPOP", "w:list:" + id});
          break;
        case 4:
          batch.push_back({"SADD", "w:set:" + id, std::to_string(n % 50)});
          break;
        case 5:
          batch.push_back({"ZINCRBY", "w:zset:" + id, "0.1", "m" + std::to_string(n % 9)});
          break;
        case 6:
          batch.push_back({"HINCRBY", "w:hash:" + id, "f" + std::to_string(n % 5), "3"});
          break;
        case 7:
          batch.push_back({"XADD", "w:stream:" + id, "*", "n", std::to_string(n)});
          break;
        case 8:
          batch.push_back({"PEXPIRE", "w:str:" + id, "600000"});
          break;
        case 9:
          batch.push_back({"DEL", "w:set:" + id});
          break;
        case 10:
          batch.push_back({"MULTI"});
          batch.push_back({"INCRBY", "w:tx:a", "2"});
          batch.push_back({"DECRBY", "w:tx:b", "2"});
          batch.push_back({"EXEC"});
          break;
        case 11:
          batch.push_back({"SET", "w:ttl:" + id, "x", "PX", "250"});
          break;
      }
    }
    auto replies = client.CallPipelined(batch);
    if (!replies) {
      error_ = replies.error().ToString();
      return;
    }
    writes_ += static_cast<uint64_t>(writes_per_batch_);
  }
}

std::vector<std::string> CanonicalDiff(const net::Uri& source, const net::Uri& target,
                                       size_t max_reported) {
  return CanonicalDiff(std::vector<net::Uri>{source}, std::vector<net::Uri>{target}, max_reported);
}

std::vector<std::string> CanonicalDiff(const std::vector<net::Uri>& source_nodes,
                                       const std::vector<net::Uri>& target_nodes,
                                       size_t max_reported) {
  std::vector<std::string> diffs;
  auto a = ReadDeployment(source_nodes, &diffs);
  auto b = ReadDeployment(target_nodes, &diffs);
  auto name = [](const std::pair<int, std::string>& k) {
    return "db" + std::to_string(k.first) + " " + Printable(k.second, 60);
  };
  for (const auto& [k, sa] : a) {
    if (diffs.size() >= max_reported) break;
    auto it = b.find(k);
    if (it == b.end()) {
      diffs.push_back("missing on target: " + name(k));
      continue;
    }
    const KeyState& sb = it->second;
    if (sa.type != sb.type) {
      diffs.push_back("type differs: " + name(k) + " " + sa.type + " vs " + sb.type);
    } else if (!(sa.value == sb.value)) {
      diffs.push_back("value differs: " + name(k) + " (" + sa.type + ")");
    }
    if (sa.expire_ms != sb.expire_ms) {
      diffs.push_back("expiry differs: " + name(k) + " " + std::to_string(sa.expire_ms) + " vs " +
                      std::to_string(sb.expire_ms));
    }
  }
  for (const auto& [k, sb] : b) {
    if (diffs.size() >= max_reported) break;
    if (!a.count(k)) diffs.push_back("extra on target: " + name(k));
  }
  // Functions live on each node: every primary of a cluster must hold the same libraries.
  auto functions = [&diffs](const std::vector<net::Uri>& nodes, const char* side) {
    std::string first;
    for (size_t i = 0; i < nodes.size(); ++i) {
      std::string libs = Functions(nodes[i]);
      if (i == 0) {
        first = libs;
      } else if (libs != first) {
        diffs.push_back(std::string("function libraries differ between ") + side + " nodes " +
                        nodes[0].Endpoint() + " and " + nodes[i].Endpoint());
      }
    }
    return first;
  };
  if (functions(source_nodes, "source") != functions(target_nodes, "target")) {
    diffs.push_back("function libraries differ");
  }
  return diffs;
}

bool WaitForReplicaCaughtUp(const net::Uri& source, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    net::Client client;
    if (client.Connect(source)) {
      auto info = client.Call({"INFO", "replication"});
      if (info && !info->is_error()) {
        std::string text = info->str();
        auto field = [&](const std::string& name) -> std::string {
          auto pos = text.find(name);
          if (pos == std::string::npos) return "";
          size_t start = pos + name.size();
          size_t end = text.find_first_of(",\r\n", start);
          return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
        };
        std::string master = field("master_repl_offset:");
        std::string acked = field(",offset=");
        if (!master.empty() && master == acked) return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace kf::test
