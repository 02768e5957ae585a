// Test datasets and canonical comparison of two live servers.
//
// SeedEveryType writes keys of every type and encoding (small and big lists/sets/zsets/
// hashes, int/binary/big strings, HyperLogLog, bitmap, geo, streams with consumer groups
// and pending entries), in dbs 0, 3 and 15, some with millisecond TTLs, plus a function
// library. Writer keeps changing keys of every type (MULTI/EXEC blocks included) from a
// background thread until stopped.
//
// CanonicalDiff reads both servers with SCAN + DUMP + PEXPIRETIME, decodes every DUMP
// payload with keyferry's RDB value reader and compares the logical values: sets and
// hashes as sets, lists and zsets in order, scores as doubles, streams with all metadata,
// absolute expiry to the millisecond. Consumer seen/active times are not compared
// (they are clocks of the server that served the reads). Function libraries are compared
// by name and code. Returns a description of every difference (empty = equal).
//
// Either side may be a cluster, given as the URIs of all its primaries: their contents are
// merged (a cluster has db 0 only). A key found on two primaries, a key a node holds but
// cannot serve (DUMP answers MOVED: it lies in a slot the node does not own) and primaries
// of one cluster with different function libraries are differences too. Keys of a slot
// being migrated are read with ASKING, so a half-migrated slot reads as one whole.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "net/uri.h"

namespace kf::test {

struct SeedOptions {
  int scale = 1;            // multiplies the element counts of the big values
  bool functions = true;    // load a Lua library
  std::string prefix = "";  // key prefix
};

// Parses a test URI; a bad one fails the current test and gives an empty Uri.
net::Uri UriOf(const std::string& text);

// Differences one per line, for assertion messages.
std::string JoinDiffs(const std::vector<std::string>& diffs);

// Seeds `uri` (must be reachable); fails the current test on errors.
void SeedEveryType(const net::Uri& uri, const SeedOptions& options = {});

// The commands SeedEveryType runs in one db (without the SELECT), each touching one key,
// and the FUNCTION LOAD of its library: what a cluster test sends through a cluster client.
std::vector<std::vector<std::string>> EveryTypeCommands(const SeedOptions& options, int db);
std::vector<std::string> SeedFunctionLoad();
// EveryTypeCommands({}, 0) plus SeedFunctionLoad(), with relative expiries turned absolute
// once per process: two deployments written one after the other (a cluster and a
// standalone server) hold identical content.
std::vector<std::vector<std::string>> EveryTypeCommandsForCompare();

// A background writer changing keys of every type in dbs 0 and 3.
class Writer {
 public:
  explicit Writer(net::Uri uri, int writes_per_batch = 20);
  ~Writer();
  void Stop();
  uint64_t writes() const { return writes_.load(); }
  std::string error() const { return error_; }

 private:
  void Run();
  net::Uri uri_;
  int writes_per_batch_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> writes_{0};
  std::string error_;
  std::thread thread_;
};

std::vector<std::string> CanonicalDiff(const net::Uri& source, const net::Uri& target,
                                       size_t max_reported = 20);
// The same for deployments of several nodes: every primary of a cluster, or one server.
std::vector<std::string> CanonicalDiff(const std::vector<net::Uri>& source_nodes,
                                       const std::vector<net::Uri>& target_nodes,
                                       size_t max_reported = 20);

// Waits until the source reports a replica (keyferry) whose acknowledged offset equals the
// source's master_repl_offset, i.e. the target has applied everything. False on timeout.
bool WaitForReplicaCaughtUp(const net::Uri& source, int timeout_ms);

}  // namespace kf::test
