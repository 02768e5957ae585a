// kf_app_workload: an application that writes to Redis the way real services do, records
// what the server acknowledged, and afterwards checks that a server holds exactly what those
// acknowledgements imply. It is the writer of `make demo`, of bench/apply_pause.sh and of
// the application-workload integration test (tests/integration/app_apply_test.cc).
//
// Seven threads, each with its own connection (keys under `app:`):
//   sessions     SET app:sess:<n> <token> PX <ttl>          TTLs from 2 s to 120 s
//   counters     INCR app:ctr:<k>
//   leaderboard  ZINCRBY app:lb <multiple of 0.25> m<k>
//   jobs         LPUSH app:jobs; LMOVE app:jobs app:processing RIGHT LEFT; LREM app:processing
//   stream       XADD app:events; XREADGROUP GROUP g c1 COUNT 10; XACK most of what it read
//   transfers    MULTI; DECRBY app:acct:<from> x; INCRBY app:acct:<to> x; EXEC
//   lua          EVAL "return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])" 1 app:h f<k> n
//
// Every thread reads its endpoint (one redis:// URI on the first line) from the endpoint
// file, re-reads it every 20 ms and reconnects when it names another server, and reconnects
// (with backoff) when its connection drops. A command sent whose reply never came is
// "uncertain": the server may or may not have run it. Each thread keeps a log of acknowledged
// and uncertain operations in memory and writes it to <record>/<thread>.log when it stops
// (after --seconds, or on SIGTERM/SIGINT); a SIGKILLed run leaves no record.
//
// The check reads the logs and the server and proves, per thread, that nothing acknowledged
// was lost and nothing happened twice; uncertain operations widen what is allowed by exactly
// their own effect (see docs/apply.md, "The application workload").
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "net/uri.h"

namespace kf::app {

// The names of the seven threads, in the order they are started and checked; each also
// names its record file (<record>/<name>.log).
inline const std::vector<std::string>& ThreadNames() {
  static const std::vector<std::string> kNames = {"sessions", "counters",  "leaderboard", "jobs",
                                                  "stream",   "transfers", "lua"};
  return kNames;
}

// Keys the workload owns. Sessions and counters are key families (app:sess:<n>, app:ctr:<k>).
inline constexpr const char* kLeaderboardKey = "app:lb";
inline constexpr const char* kJobsKey = "app:jobs";
inline constexpr const char* kProcessingKey = "app:processing";
inline constexpr const char* kStreamKey = "app:events";
inline constexpr const char* kGroupName = "g";
inline constexpr const char* kConsumerName = "c1";
inline constexpr const char* kAccountA = "app:acct:a";
inline constexpr const char* kAccountB = "app:acct:b";
inline constexpr const char* kHashKey = "app:h";
inline constexpr const char* kHincrbyScript =
    "return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])";
inline constexpr int64_t kInitialBalance = 1000000;

struct RunOptions {
  std::string endpoint_file;
  std::string record_dir;
  int seconds = 300;         // stops by itself after this long
  int rate = 700;            // operations per second per thread
  int give_up_seconds = 60;  // a thread that cannot connect for this long stops (exit 2)
  std::chrono::milliseconds io_timeout{15000};
};

struct CheckOptions {
  std::string endpoint_file;
  std::string record_dir;
  int64_t ttl_margin_ms = 1000;  // clock and scheduling slack for session TTL checks
};

// Exit codes: 0 done, 2 usage or runtime error (no endpoint, a thread gave up, records
// could not be written).
int Run(const RunOptions& options);
// Exit codes: 0 every check passed, 1 a check failed, 2 runtime error (no server, records
// missing).
int Check(const CheckOptions& options);

// Milliseconds since the Unix epoch (the servers' TTL clock).
inline int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The URI on the first line of `path` (surrounding blanks removed); empty when the file is
// missing, empty or being rewritten.
std::string ReadEndpointFile(const std::string& path);

}  // namespace kf::app
