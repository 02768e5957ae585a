// keyferry rdb: read RDB files offline.
//
//   keyferry rdb dump FILE [--format canonical|full] [--pel-limit N]
//                                                 the dataset in canonical JSON lines (the
//                                                 form of the fixtures' .jsonl files), or
//                                                 the full form (every pending entry, stream
//                                                 times, idle/freq; see rdb/canonical.h)
//   keyferry rdb inspect FILE [--json]            version, aux fields, per-db counts by type
//                                                 and encoding, expiring keys, the largest
//                                                 keys, function libraries, time taken
//
// The file is read in 1 MiB chunks and fed to the streaming reader; it is never loaded
// whole. A reader error prints its message (with the byte offset) and exits 2.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/cli_app.h"
#include "rdb/canonical.h"
#include "rdb/reader.h"

namespace kf::cli {
namespace {

using kf::rdb::AccessLevel;
using kf::rdb::KeyInfo;

// Feeds FILE to `reader` in 1 MiB chunks; returns the error text, empty on success.
std::string ReadRdbFile(const std::string& path, rdb::RdbReader& reader) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return "cannot open " + path + ": " + std::strerror(errno);
  std::vector<uint8_t> buf(1 << 20);
  while (true) {
    size_t n = std::fread(buf.data(), 1, buf.size(), f.get());
    if (n > 0) {
      auto r = reader.Feed(ByteView(buf.data(), n));
      if (!r) return r.error().ToString();
    }
    if (n < buf.size()) {
      if (std::ferror(f.get())) return "cannot read " + path + ": " + std::strerror(errno);
      break;
    }
  }
  auto r = reader.Finish();
  if (!r) return r.error().ToString();
  return {};
}

// `pel_limit` < 0: the format's own limit (canonical: 10 pending entries per group, full:
// all); 0: all; N: at most N.
int RunDump(const std::string& path, const std::string& format, long long pel_limit) {
  rdb::CanonicalOptions options;
  if (format == "full") {
    options = rdb::CanonicalOptions::Full();
  } else if (format != "canonical") {
    std::fprintf(stderr,
                 "keyferry rdb dump: unknown --format '%s'; use 'canonical' (the default) or "
                 "'full'\n",
                 format.c_str());
    return kExitError;
  }
  if (pel_limit == 0) options.max_pel_entries = SIZE_MAX;
  if (pel_limit > 0) options.max_pel_entries = static_cast<size_t>(pel_limit);
  rdb::CanonicalDumpSink sink(options);
  rdb::RdbReader reader(&sink);
  std::string err = ReadRdbFile(path, reader);
  if (!err.empty()) {
    std::fprintf(stderr, "keyferry rdb dump: %s: %s\n", path.c_str(), err.c_str());
    return kExitError;
  }
  std::string out;
  for (const auto& line : sink.SortedLines()) {
    out.append(line);
    out.push_back('\n');
    if (out.size() > (1 << 20)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (std::fflush(stdout) != 0) {
    std::fprintf(stderr, "keyferry rdb dump: cannot write the output: %s\n", std::strerror(errno));
    return kExitError;
  }
  return kExitOk;
}

// Gathers the statistics `rdb inspect` prints; values are skipped, never decoded.
class InspectSink : public rdb::RdbSink {
 public:
  struct DbStats {
    uint64_t keys = 0;
    uint64_t expiring = 0;
    uint64_t bytes = 0;
    std::map<std::string, uint64_t> by_type;
    std::map<std::string, uint64_t> by_encoding;
  };
  struct BigKey {
    uint64_t bytes;
    uint64_t db;
    std::string key;
    std::string type;
    std::string encoding;
  };

  void OnHeader(const rdb::RdbFormat& f) override { format = f; }
  void OnAux(ByteView key, ByteView value) override {
    aux.emplace_back(ToString(key), ToString(value));
  }
  void OnFunction(const rdb::FunctionLibrary& lib) override {
    functions.push_back(lib.name.empty() ? "(unnamed)" : lib.name);
  }
  void OnModuleAux(const rdb::ModuleAux& a) override { modules.push_back(a.module_name); }
  AccessLevel OnKey(const KeyInfo&) override { return AccessLevel::kSkip; }
  void OnKeyEnd(const KeyInfo& k, uint64_t bytes) override {
    DbStats& s = dbs[k.db];
    ++s.keys;
    s.bytes += bytes;
    if (k.expire_ms >= 0) ++s.expiring;
    std::string type = rdb::ValueTypeName(k.type);
    std::string enc = rdb::RdbTypeName(k.rdb_type, format);
    ++s.by_type[type];
    ++s.by_encoding[enc];
    if (biggest.size() < 10 || bytes > biggest.front().bytes) {
      biggest.push_back(BigKey{bytes, k.db, ToString(k.key), type, enc});
      std::push_heap(biggest.begin(), biggest.end(), Cmp);
      if (biggest.size() > 10) {
        std::pop_heap(biggest.begin(), biggest.end(), Cmp);
        biggest.pop_back();
      }
    }
  }
  void OnEof(const rdb::EofInfo& e) override { eof = e; }

  std::vector<BigKey> Largest() const {
    std::vector<BigKey> v = biggest;
    std::sort(v.begin(), v.end(),
              [](const BigKey& a, const BigKey& b) { return a.bytes > b.bytes; });
    return v;
  }

  rdb::RdbFormat format;
  std::vector<std::pair<std::string, std::string>> aux;
  std::vector<std::string> functions;
  std::vector<std::string> modules;
  std::map<uint64_t, DbStats> dbs;
  rdb::EofInfo eof;

 private:
  // Min-heap on size: the front is the smallest of the kept ten.
  static bool Cmp(const BigKey& a, const BigKey& b) { return a.bytes > b.bytes; }
  std::vector<BigKey> biggest;
};

int RunInspect(const std::string& path, bool as_json) {
  auto start = std::chrono::steady_clock::now();
  InspectSink sink;
  rdb::RdbReader reader(&sink);
  std::string err = ReadRdbFile(path, reader);
  if (!err.empty()) {
    std::fprintf(stderr, "keyferry rdb inspect: %s: %s\n", path.c_str(), err.c_str());
    return kExitError;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string version =
      std::string(sink.format.magic == rdb::RdbMagic::kValkey ? "VALKEY" : "REDIS") + " " +
      std::to_string(sink.format.version);
  if (as_json) {
    nlohmann::json j;
    j["file"] = path;
    j["bytes"] = reader.offset();
    j["rdb_version"] = sink.format.version;
    j["magic"] = sink.format.magic == rdb::RdbMagic::kValkey ? "VALKEY" : "REDIS";
    j["aux"] = nlohmann::json::object();
    for (const auto& [k, v] : sink.aux) j["aux"][k] = v;
    j["dbs"] = nlohmann::json::object();
    for (const auto& [db, s] : sink.dbs) {
      nlohmann::json d;
      d["keys"] = s.keys;
      d["keys_with_expiry"] = s.expiring;
      d["serialized_bytes"] = s.bytes;
      d["by_type"] = s.by_type;
      d["by_encoding"] = s.by_encoding;
      j["dbs"][std::to_string(db)] = d;
    }
    j["largest_keys"] = nlohmann::json::array();
    for (const auto& b : sink.Largest()) {
      j["largest_keys"].push_back({{"db", b.db},
                                   {"key", Printable(b.key, 200)},
                                   {"type", b.type},
                                   {"encoding", b.encoding},
                                   {"serialized_bytes", b.bytes}});
    }
    j["function_libraries"] = sink.functions;
    j["module_aux"] = sink.modules;
    j["checksum"] = sink.eof.has_checksum ? (sink.eof.checksum_checked ? "verified" : "not stored")
                                          : "none (RDB < 5)";
    j["seconds"] = secs;
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  std::printf("file:      %s (%llu bytes)\n", path.c_str(),
              static_cast<unsigned long long>(reader.offset()));
  std::printf("version:   %s\n", version.c_str());
  std::printf("checksum:  %s\n", sink.eof.has_checksum
                                     ? (sink.eof.checksum_checked ? "verified" : "not stored (0)")
                                     : "none (RDB < 5)");
  std::printf("aux fields:\n");
  for (const auto& [k, v] : sink.aux) {
    std::printf("  %s = %s\n", Printable(k).c_str(), Printable(v).c_str());
  }
  for (const auto& [db, s] : sink.dbs) {
    std::printf("db %llu: %llu keys, %llu with expiry, %llu serialized bytes\n",
                static_cast<unsigned long long>(db), static_cast<unsigned long long>(s.keys),
                static_cast<unsigned long long>(s.expiring),
                static_cast<unsigned long long>(s.bytes));
    for (const auto& [t, n] : s.by_type) {
      std::printf("  type %-10s %llu\n", t.c_str(), static_cast<unsigned long long>(n));
    }
    for (const auto& [e, n] : s.by_encoding) {
      std::printf("  encoding %-24s %llu\n", e.c_str(), static_cast<unsigned long long>(n));
    }
  }
  std::printf("largest keys (serialized bytes):\n");
  for (const auto& b : sink.Largest()) {
    std::printf("  %10llu  db %llu  %-6s %-18s %s\n", static_cast<unsigned long long>(b.bytes),
                static_cast<unsigned long long>(b.db), b.type.c_str(), b.encoding.c_str(),
                Printable(b.key, 80).c_str());
  }
  std::printf("function libraries: %zu\n", sink.functions.size());
  for (const auto& f : sink.functions) std::printf("  %s\n", Printable(f).c_str());
  if (!sink.modules.empty()) {
    std::printf("module aux records: %zu\n", sink.modules.size());
  }
  std::printf("time: %.3f s\n", secs);
  return kExitOk;
}

}  // namespace

void RegisterRdbCommand(CLI::App& app, CliState& state) {
  auto* rdb_cmd = app.add_subcommand("rdb", "read, dump and inspect RDB files");
  rdb_cmd->require_subcommand(1);

  auto* dump =
      rdb_cmd->add_subcommand("dump", "print the dataset of an RDB file in canonical JSON lines");
  auto dump_file = std::make_shared<std::string>();
  auto dump_format = std::make_shared<std::string>("canonical");
  dump->add_option("file", *dump_file, "RDB file")->required();
  dump->add_option("--format", *dump_format,
                   "canonical: the fixtures' form (at most 10 pending entries per consumer "
                   "group); full: every pending entry plus delivery/seen/active times, stream "
                   "first_id and each key's idle/freq")
      ->check(CLI::IsMember({"canonical", "full"}))
      ->capture_default_str();
  auto pel_limit = std::make_shared<long long>(-1);
  dump->add_option("--pel-limit", *pel_limit,
                   "override the format's pending-entry limit per consumer group (0 = all)")
      ->check(CLI::NonNegativeNumber);
  dump->callback([&state, dump_file, dump_format, pel_limit] {
    state.run = [dump_file, dump_format, pel_limit] {
      return RunDump(*dump_file, *dump_format, *pel_limit);
    };
  });

  auto* inspect =
      rdb_cmd->add_subcommand("inspect", "summarize an RDB file (versions, counts, largest keys)");
  auto inspect_file = std::make_shared<std::string>();
  auto inspect_json = std::make_shared<bool>(false);
  inspect->add_option("file", *inspect_file, "RDB file")->required();
  inspect->add_flag("--json", *inspect_json, "print JSON instead of text");
  inspect->callback([&state, inspect_file, inspect_json] {
    state.run = [inspect_file, inspect_json] { return RunInspect(*inspect_file, *inspect_json); };
  });
}

}  // namespace kf::cli
