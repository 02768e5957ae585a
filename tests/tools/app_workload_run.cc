// kf_app_workload run: the seven application threads (see app_workload.h), each following
// the endpoint file, and the record each writes when it stops.
//
// A record is one line per operation, "<op> <outcome> <fields...>", outcome `ack` (the
// server answered: it ran the command), `unc` (sent, no answer: it may have run) or `err`
// (the server refused it: it did not run). Lines by thread:
//   sessions     set ack|unc <key> <token> <ttl_ms> <sent_wall_ms> <answered_wall_ms>
//   counters     incr ack|unc <key>
//   leaderboard  zincrby ack|unc <member> <quarters>
//   jobs         lpush ack|unc <job>; lmove ack <job> | lmove unc; lrem ack <job> <removed> |
//                lrem unc <job>
//   stream       xadd ack <id> <n> | xadd unc <n>; deliver <id> <n> (one per entry an
//                XREADGROUP returned) | xreadgroup unc; xack ack <acknowledged> <id>... |
//                xack unc <id>...
//   transfers    transfer ack|unc <amount moved from app:acct:a to app:acct:b, signed>
//   lua          hincrby ack|unc <field> <n>
// For `unc` the answered time is when the connection failed.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <thread>

#include "app_workload.h"
#include "net/client.h"

namespace kf::app {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

// A deterministic spread of operation numbers over keys, amounts and TTLs (splitmix64).
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// What one thread measured.
struct ThreadStats {
  uint64_t answered = 0;  // calls the server answered (acknowledged or refused)
  uint64_t uncertain = 0;
  uint64_t errors = 0;  // error replies
  uint64_t reconnects = 0;
  int64_t longest_call_us = 0;  // one call, send to answer or failure
  int64_t longest_wait_us = 0;  // a call's start to the thread's next answer, reconnects included
  int64_t longest_wait_start_ms = 0;  // wall clock when that longest wait began
  bool gave_up = false;
  std::string last_error;
};

enum class Outcome { kAnswered, kUncertain, kStopped };

// One thread's connection to the server the endpoint file names. Before each call it
// re-reads the file (at most every 20 ms) and moves to a new endpoint when the file names
// one; a dropped connection is re-opened with backoff (10 ms doubling to 500 ms) until
// --give-up-seconds pass without a connection.
class EndpointConnection {
 public:
  EndpointConnection(const RunOptions& options, ThreadStats* stats)
      : options_(options), stats_(stats) {
    client_options_.connect_timeout = milliseconds(2000);
    client_options_.io_timeout = options.io_timeout;
  }

  Outcome Call(const std::vector<std::string>& args, resp::Reply* reply) {
    std::vector<resp::Reply> replies;
    Outcome outcome = Exchange({args}, &replies);
    if (outcome == Outcome::kAnswered) *reply = std::move(replies.front());
    return outcome;
  }

  // Sends the commands in one write and reads one reply per command.
  Outcome Exchange(const std::vector<std::vector<std::string>>& commands,
                   std::vector<resp::Reply>* replies) {
    if (!EnsureConnected()) return Outcome::kStopped;
    auto start = SteadyClock::now();
    if (!waiting_since_) {
      waiting_since_ = start;
      waiting_since_wall_ms_ = WallMs();
    }
    auto result = client_.CallPipelined(commands);
    auto end = SteadyClock::now();
    stats_->longest_call_us = std::max(stats_->longest_call_us, Micros(end - start));
    if (!result) {
      // The client closed the connection: the commands may or may not have run.
      ++stats_->uncertain;
      stats_->last_error = result.error().ToString();
      return Outcome::kUncertain;
    }
    if (Micros(end - *waiting_since_) > stats_->longest_wait_us) {
      stats_->longest_wait_us = Micros(end - *waiting_since_);
      stats_->longest_wait_start_ms = waiting_since_wall_ms_;
    }
    waiting_since_.reset();
    ++stats_->answered;
    *replies = std::move(*result);
    for (const auto& r : *replies) {
      if (r.is_error()) {
        ++stats_->errors;
        stats_->last_error = r.str();
        break;
      }
    }
    return Outcome::kAnswered;
  }

 private:
  static int64_t Micros(SteadyClock::duration d) {
    return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  }

  bool EnsureConnected() {
    auto now = SteadyClock::now();
    if (client_.connected() && now >= next_file_check_) {
      next_file_check_ = now + milliseconds(20);
      // An empty read is a file being rewritten: keep the current server until it names one.
      std::string named = ReadEndpointFile(options_.endpoint_file);
      if (!named.empty() && named != current_) client_.Close();
    }
    if (client_.connected()) return true;
    auto give_up_at = now + std::chrono::seconds(options_.give_up_seconds);
    auto backoff = milliseconds(10);
    while (!g_stop) {
      std::string named = ReadEndpointFile(options_.endpoint_file);
      if (named.empty()) {
        stats_->last_error = "the endpoint file " + options_.endpoint_file + " is empty or missing";
      } else if (auto uri = net::Uri::Parse(named); !uri) {
        stats_->last_error = "the endpoint file " + options_.endpoint_file +
                             " holds a bad URI: " + uri.error().ToString();
      } else if (auto c = client_.Connect(*uri, client_options_); !c) {
        stats_->last_error = c.error().ToString();
      } else {
        if (connected_once_) ++stats_->reconnects;
        connected_once_ = true;
        current_ = named;
        next_file_check_ = SteadyClock::now() + milliseconds(20);
        return true;
      }
      if (SteadyClock::now() >= give_up_at) {
        stats_->gave_up = true;
        return false;
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, milliseconds(500));
    }
    return false;
  }

  const RunOptions& options_;
  ThreadStats* stats_;
  net::ClientOptions client_options_;
  net::Client client_;
  std::string current_;
  bool connected_once_ = false;
  SteadyClock::time_point next_file_check_{};
  std::optional<SteadyClock::time_point> waiting_since_;
  int64_t waiting_since_wall_ms_ = 0;
};

// The record of one thread: lines appended in memory, written when the thread stops.
class Record {
 public:
  template <typename... Parts>
  void Line(const Parts&... parts) {
    bool first = true;
    ((text_ += (first ? "" : " "), text_ += ToText(parts), first = false), ...);
    text_ += '\n';
  }
  const std::string& text() const { return text_; }

 private:
  static std::string ToText(const std::string& s) { return s; }
  static std::string ToText(const char* s) { return s; }
  static std::string ToText(int64_t v) { return std::to_string(v); }
  static std::string ToText(uint64_t v) { return std::to_string(v); }
  std::string text_;
};

const char* OutcomeWord(Outcome o) { return o == Outcome::kAnswered ? "ack" : "unc"; }

// One operation of a thread; false once the thread must stop.
using Operation = std::function<bool(uint64_t i, EndpointConnection& conn, Record& record)>;

bool Sessions(uint64_t i, EndpointConnection& conn, Record& record) {
  std::string key = "app:sess:" + std::to_string(Mix(i) % 500);
  std::string token = "t" + std::to_string(i);
  // A quarter of the sessions are short (2-10 s), so some expire during a migration.
  int64_t ttl = i % 4 == 0 ? 2000 + static_cast<int64_t>(Mix(i + 1) % 8000)
                           : 10000 + static_cast<int64_t>(Mix(i + 1) % 110000);
  int64_t sent = WallMs();
  resp::Reply reply;
  Outcome o = conn.Call({"SET", key, token, "PX", std::to_string(ttl)}, &reply);
  if (o == Outcome::kStopped) return false;
  if (o == Outcome::kAnswered && !reply.IsOk()) {
    record.Line("set", "err", key, reply.str());
    return true;
  }
  record.Line("set", OutcomeWord(o), key, token, ttl, sent, WallMs());
  return true;
}

bool Counters(uint64_t i, EndpointConnection& conn, Record& record) {
  std::string key = "app:ctr:" + std::to_string(Mix(i) % 8);
  resp::Reply reply;
  Outcome o = conn.Call({"INCR", key}, &reply);
  if (o == Outcome::kStopped) return false;
  if (o == Outcome::kAnswered && reply.type() != resp::ReplyType::kInteger) {
    record.Line("incr", "err", key, reply.str());
    return true;
  }
  record.Line("incr", OutcomeWord(o), key);
  return true;
}

bool Leaderboard(uint64_t i, EndpointConnection& conn, Record& record) {
  std::string member = "m" + std::to_string(Mix(i) % 20);
  int64_t quarters = 1 + static_cast<int64_t>(Mix(i + 7) % 20);  // 0.25 to 5.0
  static const char* kFraction[] = {"", ".25", ".5", ".75"};
  std::string delta = std::to_string(quarters / 4) + kFraction[quarters % 4];
  resp::Reply reply;
  Outcome o = conn.Call({"ZINCRBY", kLeaderboardKey, delta, member}, &reply);
  if (o == Outcome::kStopped) return false;
  if (o == Outcome::kAnswered && reply.is_error()) {
    record.Line("zincrby", "err", member, reply.str());
    return true;
  }
  record.Line("zincrby", OutcomeWord(o), member, quarters);
  return true;
}

// Pushes one job per operation and, three times in four, takes the oldest job into
// app:processing and finishes (LREM) the one taken before: one job is "being processed"
// at a time and the queue grows slowly.
class JobQueue {
 public:
  bool operator()(uint64_t i, EndpointConnection& conn, Record& record) {
    std::string job = "job:" + std::to_string(i);
    resp::Reply reply;
    Outcome o = conn.Call({"LPUSH", kJobsKey, job}, &reply);
    if (o == Outcome::kStopped) return false;
    if (o == Outcome::kAnswered && reply.is_error()) {
      record.Line("lpush", "err", job, reply.str());
    } else {
      record.Line("lpush", OutcomeWord(o), job);
    }
    if (i % 4 == 3) return true;
    o = conn.Call({"LMOVE", kJobsKey, kProcessingKey, "RIGHT", "LEFT"}, &reply);
    if (o == Outcome::kStopped) return false;
    std::string taken;
    if (o == Outcome::kUncertain) {
      record.Line("lmove", "unc");
    } else if (reply.is_error()) {
      record.Line("lmove", "err", reply.str());
    } else if (!reply.is_null()) {
      taken = reply.str();
      record.Line("lmove", "ack", taken);
    }
    if (taken.empty()) return true;
    if (!in_flight_.empty()) {
      o = conn.Call({"LREM", kProcessingKey, "1", in_flight_}, &reply);
      if (o == Outcome::kStopped) return false;
      if (o == Outcome::kUncertain) {
        record.Line("lrem", "unc", in_flight_);
      } else if (reply.is_error()) {
        record.Line("lrem", "err", in_flight_, reply.str());
      } else {
        record.Line("lrem", "ack", in_flight_, reply.integer());
      }
    }
    in_flight_ = taken;
    return true;
  }

 private:
  std::string in_flight_;
};

// Adds one entry per operation; every fifth, reads up to 10 new entries as consumer c1 of
// group g and acknowledges those whose n is not a multiple of 7 (they stay pending).
bool Stream(uint64_t i, EndpointConnection& conn, Record& record) {
  std::string n = std::to_string(i);
  resp::Reply reply;
  Outcome o = conn.Call({"XADD", kStreamKey, "*", "n", n}, &reply);
  if (o == Outcome::kStopped) return false;
  if (o == Outcome::kUncertain) {
    record.Line("xadd", "unc", n);
  } else if (reply.is_error()) {
    record.Line("xadd", "err", n, reply.str());
  } else {
    record.Line("xadd", "ack", reply.str(), n);
  }
  if (i % 5 != 4) return true;
  o = conn.Call(
      {"XREADGROUP", "GROUP", kGroupName, kConsumerName, "COUNT", "10", "STREAMS", kStreamKey, ">"},
      &reply);
  if (o == Outcome::kStopped) return false;
  if (o == Outcome::kUncertain) {
    record.Line("xreadgroup", "unc");
    return true;
  }
  if (reply.is_error()) {
    record.Line("xreadgroup", "err", reply.str());
    return true;
  }
  // [[key, [[id, [field, value, ...]], ...]]] or nil when nothing is new.
  std::vector<std::string> to_ack;
  if (reply.is_aggregate() && reply.size() == 1 && reply[0].size() == 2) {
    for (const auto& entry : reply[0][1].children()) {
      if (entry.size() != 2) continue;
      const std::string& id = entry[0].str();
      std::string value = entry[1].size() == 2 ? entry[1][1].str() : "?";
      record.Line("deliver", id, value);
      uint64_t number = std::strtoull(value.c_str(), nullptr, 10);
      if (number % 7 != 0) to_ack.push_back(id);
    }
  }
  if (to_ack.empty()) return true;
  std::vector<std::string> xack = {"XACK", kStreamKey, kGroupName};
  xack.insert(xack.end(), to_ack.begin(), to_ack.end());
  o = conn.Call(xack, &reply);
  if (o == Outcome::kStopped) return false;
  std::string ids;
  for (const auto& id : to_ack) ids += (ids.empty() ? "" : " ") + id;
  if (o == Outcome::kUncertain) {
    record.Line("xack", "unc", ids);
  } else if (reply.is_error()) {
    record.Line("xack", "err", reply.str());
  } else {
    record.Line("xack", "ack", reply.integer(), ids);
  }
  return true;
}

bool Transfers(uint64_t i, EndpointConnection& conn, Record& record) {
  int64_t amount = 1 + static_cast<int64_t>(Mix(i) % 100);
  bool a_to_b = (Mix(i) >> 8) & 1;
  std::string from = a_to_b ? kAccountA : kAccountB;
  std::string to = a_to_b ? kAccountB : kAccountA;
  std::vector<resp::Reply> replies;
  Outcome o = conn.Exchange({{"MULTI"},
                             {"DECRBY", from, std::to_string(amount)},
                             {"INCRBY", to, std::to_string(amount)},
                             {"EXEC"}},
                            &replies);
  if (o == Outcome::kStopped) return false;
  int64_t moved = a_to_b ? amount : -amount;
  if (o == Outcome::kAnswered && (replies.size() != 4 || replies[3].size() != 2)) {
    record.Line("transfer", "err", moved, replies.empty() ? "" : replies.back().ToString(80));
    return true;
  }
  record.Line("transfer", OutcomeWord(o), moved);
  return true;
}

bool Lua(uint64_t i, EndpointConnection& conn, Record& record) {
  std::string field = "f" + std::to_string(Mix(i) % 10);
  int64_t n = 1 + static_cast<int64_t>(Mix(i + 3) % 5);
  resp::Reply reply;
  Outcome o = conn.Call({"EVAL", kHincrbyScript, "1", kHashKey, field, std::to_string(n)}, &reply);
  if (o == Outcome::kStopped) return false;
  if (o == Outcome::kAnswered && reply.type() != resp::ReplyType::kInteger) {
    record.Line("hincrby", "err", field, reply.str());
    return true;
  }
  record.Line("hincrby", OutcomeWord(o), field, n);
  return true;
}

// Creates the accounts and the consumer group on a server that holds no app:* keys yet.
// Retries the connection like the threads do.
int Prepare(const RunOptions& options) {
  auto give_up_at = SteadyClock::now() + std::chrono::seconds(options.give_up_seconds);
  net::Client client;
  std::string last_error;
  while (!g_stop && SteadyClock::now() < give_up_at) {
    std::string named = ReadEndpointFile(options.endpoint_file);
    auto uri = net::Uri::Parse(named);
    if (named.empty()) {
      last_error = "the endpoint file " + options.endpoint_file + " is empty or missing";
    } else if (!uri) {
      last_error = uri.error().ToString();
    } else if (auto c = client.Connect(*uri); !c) {
      last_error = c.error().ToString();
    } else {
      break;
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  if (!client.connected()) {
    std::fprintf(stderr, "kf_app_workload run: cannot start: %s\n", last_error.c_str());
    return 2;
  }
  auto exists = client.Call({"EXISTS", kAccountA, kAccountB, kStreamKey, kJobsKey, kProcessingKey,
                             kLeaderboardKey, kHashKey});
  if (!exists || exists->is_error() || exists->integer() != 0) {
    std::fprintf(stderr,
                 "kf_app_workload run: %s already holds app:* keys (or did not answer EXISTS: "
                 "%s); the checks need a fresh start: flush it or use another server\n",
                 client.uri().ToString().c_str(),
                 exists ? exists->ToString().c_str() : exists.error().ToString().c_str());
    return 2;
  }
  const std::string balance = std::to_string(kInitialBalance);
  auto replies =
      client.CallPipelined({{"SET", kAccountA, balance},
                            {"SET", kAccountB, balance},
                            {"XGROUP", "CREATE", kStreamKey, kGroupName, "$", "MKSTREAM"}});
  if (!replies || !(*replies)[0].IsOk() || !(*replies)[1].IsOk() || !(*replies)[2].IsOk()) {
    std::fprintf(stderr,
                 "kf_app_workload run: setting up the accounts and group on %s failed: %s\n",
                 client.uri().ToString().c_str(),
                 replies ? (*replies)[2].ToString().c_str() : replies.error().ToString().c_str());
    return 2;
  }
  return 0;
}

}  // namespace

int Run(const RunOptions& options) {
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  if (int rc = Prepare(options); rc != 0) return rc;

  const auto& names = ThreadNames();
  JobQueue job_queue;
  std::vector<Operation> operations = {Sessions, Counters,  Leaderboard, std::ref(job_queue),
                                       Stream,   Transfers, Lua};
  std::vector<ThreadStats> stats(names.size());
  std::vector<Record> records(names.size());
  std::vector<char> written(names.size(), 0);  // char: each thread sets its own
  auto start = SteadyClock::now();
  auto deadline = start + std::chrono::seconds(options.seconds);
  auto interval = std::chrono::microseconds(1000000 / std::max(options.rate, 1));
  std::vector<std::thread> threads;
  for (size_t t = 0; t < names.size(); ++t) {
    threads.emplace_back([&, t] {
      EndpointConnection conn(options, &stats[t]);
      auto next = SteadyClock::now();
      for (uint64_t i = 0; !g_stop && SteadyClock::now() < deadline; ++i) {
        if (!operations[t](i, conn, records[t])) break;
        next += interval;
        // After a stall, go on at the normal rate instead of catching up in a burst.
        if (next < SteadyClock::now() - milliseconds(100)) next = SteadyClock::now();
        std::this_thread::sleep_until(next);
      }
      std::ofstream out(options.record_dir + "/" + names[t] + ".log", std::ios::trunc);
      out << records[t].text();
      out.close();
      written[t] = !out.fail();
    });
  }
  for (auto& th : threads) th.join();
  double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();

  uint64_t answered = 0, uncertain = 0, errors = 0, reconnects = 0;
  int64_t longest_call_us = 0, longest_wait_us = 0, longest_wait_start_ms = 0;
  int rc = 0;
  for (size_t t = 0; t < names.size(); ++t) {
    const ThreadStats& s = stats[t];
    std::printf(
        "thread %s answered=%llu uncertain=%llu errors=%llu reconnects=%llu "
        "longest_call_ms=%.1f longest_wait_ms=%.1f longest_wait_start_ms=%lld%s%s\n",
        names[t].c_str(), static_cast<unsigned long long>(s.answered),
        static_cast<unsigned long long>(s.uncertain), static_cast<unsigned long long>(s.errors),
        static_cast<unsigned long long>(s.reconnects), s.longest_call_us / 1000.0,
        s.longest_wait_us / 1000.0, static_cast<long long>(s.longest_wait_start_ms),
        s.last_error.empty() ? "" : " last_error=", s.last_error.c_str());
    answered += s.answered;
    uncertain += s.uncertain;
    errors += s.errors;
    reconnects += s.reconnects;
    longest_call_us = std::max(longest_call_us, s.longest_call_us);
    if (s.longest_wait_us > longest_wait_us) {
      longest_wait_us = s.longest_wait_us;
      longest_wait_start_ms = s.longest_wait_start_ms;
    }
    if (s.gave_up) {
      std::fprintf(stderr,
                   "kf_app_workload run: thread %s gave up after %d s without a connection: %s; "
                   "check the server named in %s\n",
                   names[t].c_str(), options.give_up_seconds, s.last_error.c_str(),
                   options.endpoint_file.c_str());
      rc = 2;
    }
    if (!written[t]) {
      std::fprintf(stderr, "kf_app_workload run: could not write %s/%s.log; check the directory\n",
                   options.record_dir.c_str(), names[t].c_str());
      rc = 2;
    }
  }
  std::printf(
      "app_workload answered=%llu seconds=%.1f ops_per_s=%.0f longest_wait_ms=%.1f "
      "longest_wait_start_ms=%lld longest_call_ms=%.1f reconnects=%llu uncertain=%llu "
      "errors=%llu\n",
      static_cast<unsigned long long>(answered), seconds, answered / seconds,
      longest_wait_us / 1000.0, static_cast<long long>(longest_wait_start_ms),
      longest_call_us / 1000.0, static_cast<unsigned long long>(reconnects),
      static_cast<unsigned long long>(uncertain), static_cast<unsigned long long>(errors));
  std::fflush(stdout);
  return rc;
}

}  // namespace kf::app
