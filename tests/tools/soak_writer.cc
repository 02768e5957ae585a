// kf_soak_writer: the writers of bench/soak.sh — a bounded, mixed, mostly non-idempotent
// write load on a Redis source, so that any command a resumed sync applies twice or skips
// shows up when source and target are compared.
//
//   kf_soak_writer seed --uri URI [--keys N]
//       Fills an empty source before the sync starts: N keys (default 100000) spread over
//       strings, hashes, lists, sets, zsets and streams in db 0 and 1, plus a few big values
//       (two 8 MiB strings, a 100,000-element list, a 50,000-field hash). Prints
//       "soak_seed keys=.. seconds=..".
//   kf_soak_writer run --uri URI [--rate OPS_PER_S] [--seconds N] [--seed S]
//       Writes until SIGTERM/SIGINT or --seconds (default 86400) with six paced threads
//       sharing --rate (default 3000 write commands/s), and a seventh writing big values
//       every few seconds:
//         counters      INCR / INCRBY / DECR / HINCRBY / INCRBYFLOAT, alternating db 0 and 1
//         lists         RPUSH (+ LTRIM), LPUSH+LPOP pairs, LMOVE between queues
//         sets          ZINCRBY (quarter steps), SADD / SREM / SPOP, in db 0 and 3
//         streams       XADD ... MAXLEN ~ 2000 on four streams, XTRIM now and then
//         transactions  MULTI/EXEC transfers (DECRBY/INCRBY/RPUSH/HINCRBY); every 25th a
//                       block of 50 INCRs in db 2 (SELECT inside the MULTI); every 7th an
//                       EVAL (INCR + RPUSH, replicated as a transaction)
//         ttl           SET key PX 1-60 s over 20,000 session keys (each write replaces the
//                       value and its TTL), fixed-window counters (INCR + PEXPIRE 30 s NX on
//                       a key named after its 10 s window, so none is written near its
//                       expiry)
//         big           every ~5 s one of: SET of 256 KiB-6 MiB, HSET of 5,000 fields,
//                       RPUSH of 1,000 elements (list trimmed to 200,000)
//       The writes stay away from patterns plain `keyferry sync` cannot copy exactly by
//       design (docs/sync.md, "Keys the target expires by itself"; consumer groups' entries
//       read, docs/verify.md): no write touches a key with a TTL close to its expiry, and
//       no stream has a consumer group. Prints one line per thread and
//       "soak_writer writes=.. seconds=.. writes_per_s=.. errors=.." at the end.
// Exit codes: 0 done (no error), 2 usage error or any error reply / lost connection (the
// first is printed). The source is written directly, not through keyferry's proxy, so an
// error here is a real failure of the run.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "net/client.h"
#include "net/uri.h"

namespace {

using Clock = std::chrono::steady_clock;
using Commands = std::vector<std::vector<std::string>>;

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One round trip of a writer thread: pipelined commands and how many of them are writes
// (SELECT, MULTI and EXEC are not counted; the commands inside a transaction are).
struct Step {
  Commands commands;
  uint64_t writes = 0;
};

// A writer thread's step generator: step number, the thread's random source.
using Generator = std::function<Step(uint64_t, std::mt19937_64&)>;

std::string Num(uint64_t v) { return std::to_string(v); }

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(n, 'x');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t r = rng();
    for (size_t j = i; j < std::min(n, i + 8); ++j) {
      s[j] = kAlphabet[r % 36];
      r /= 36;
    }
  }
  return s;
}

Step Counters(uint64_t i, std::mt19937_64& rng) {
  const std::string db = i % 2 == 0 ? "0" : "1";
  const uint64_t k = rng() % 500;
  switch (i % 10) {
    case 0:
    case 1:
    case 2:
    case 3:
      return {{{"SELECT", db}, {"INCR", "soak:ctr:" + Num(k)}}, 1};
    case 4:
    case 5:
      return {{{"SELECT", db}, {"INCRBY", "soak:ctr:" + Num(k), Num(rng() % 100 + 1)}}, 1};
    case 6:
      return {{{"SELECT", db}, {"DECR", "soak:ctr:" + Num(k)}}, 1};
    case 7:
    case 8:
      return {{{"SELECT", db}, {"HINCRBY", "soak:h:" + Num(k % 50), "f" + Num(rng() % 20), "1"}},
              1};
    default:
      return {{{"SELECT", db}, {"INCRBYFLOAT", "soak:f:" + Num(k % 20), "0.5"}}, 1};
  }
}

Step Lists(uint64_t i, std::mt19937_64& rng) {
  const uint64_t k = rng() % 100;
  if (i % 50 == 0) return {{{"LTRIM", "soak:list:" + Num(k), "-300", "-1"}}, 1};
  if (i % 17 == 0) {
    return {{{"LMOVE", "soak:q:" + Num(k % 20), "soak:q:" + Num((k + 1) % 20), "RIGHT", "LEFT"}},
            1};
  }
  if (i % 3 == 0) {
    const std::string q = "soak:q:" + Num(k % 20);
    // Two pushed, one popped: the queues grow slowly; every 50th step trims them too.
    return {{{"LPUSH", q, Num(i), Num(i + 1)}, {"LPOP", q}}, 2};
  }
  if (i % 50 == 25) return {{{"LTRIM", "soak:q:" + Num(k % 20), "0", "499"}}, 1};
  return {{{"RPUSH", "soak:list:" + Num(k), Num(i)}}, 1};
}

Step Sets(uint64_t i, std::mt19937_64& rng) {
  const std::string db = i % 4 == 0 ? "3" : "0";
  const uint64_t k = rng() % 100;
  const uint64_t m = rng() % 1000;
  switch (i % 6) {
    case 0:
    case 1: {
      // Quarter steps are exact in binary: the summed score never depends on rounding.
      const std::string delta = std::to_string(static_cast<double>(rng() % 8 + 1) * 0.25);
      return {{{"SELECT", db}, {"ZINCRBY", "soak:lb:" + Num(k % 5), delta, "m" + Num(m)}}, 1};
    }
    case 2:
    case 3:
      return {{{"SELECT", db}, {"SADD", "soak:set:" + Num(k), "m" + Num(m % 200)}}, 1};
    case 4:
      return {{{"SELECT", db}, {"SREM", "soak:set:" + Num(k), "m" + Num(m % 200)}}, 1};
    default:
      // SPOP picks at random; the source replicates the SREM of what it picked.
      return {{{"SELECT", db}, {"SPOP", "soak:set:" + Num(k)}}, 1};
  }
}

Step Streams(uint64_t i, std::mt19937_64& rng) {
  const std::string key = "soak:stream:" + Num(i % 4);
  if (i % 200 == 199) return {{{"XTRIM", key, "MAXLEN", "1500"}}, 1};
  return {{{"XADD", key, "MAXLEN", "~", "2000", "*", "n", Num(i), "v", RandomBytes(rng, 24)}}, 1};
}

Step Transactions(uint64_t i, std::mt19937_64& rng) {
  if (i % 25 == 0) {
    Step s;
    s.commands.push_back({"MULTI"});
    s.commands.push_back({"SELECT", "2"});
    for (int j = 0; j < 50; ++j) {
      s.commands.push_back({"INCR", "soak:tx2:" + Num(rng() % 200)});
    }
    s.commands.push_back({"SELECT", "0"});
    s.commands.push_back({"EXEC"});
    s.writes = 50;
    return s;
  }
  if (i % 7 == 0) {
    return {{{"EVAL",
              "redis.call('INCR', KEYS[1]); redis.call('LTRIM', KEYS[2], -999, -1); "
              "return redis.call('RPUSH', KEYS[2], ARGV[1])",
              "2", "soak:lua:ctr", "soak:lua:list", Num(i)}},
            3};
  }
  const uint64_t a = rng() % 10;
  const uint64_t b = (a + 1 + rng() % 9) % 10;
  const std::string amount = Num(rng() % 1000 + 1);
  Step s;
  s.commands = {{"MULTI"},
                {"DECRBY", "soak:acct:" + Num(a), amount},
                {"INCRBY", "soak:acct:" + Num(b), amount},
                {"RPUSH", "soak:txlog", Num(a) + ">" + Num(b) + ":" + amount},
                {"HINCRBY", "soak:txstats", "transfers", "1"}};
  s.writes = 4;
  if (i % 10 == 0) {
    s.commands.push_back({"LTRIM", "soak:txlog", "-1000", "-1"});
    ++s.writes;
  }
  s.commands.push_back({"EXEC"});
  return s;
}

Step Ttl(uint64_t i, std::mt19937_64& rng) {
  if (i % 3 == 0) {
    // A fixed-window rate limiter: written only during its 10 s window, expiring 30 s after
    // its first write.
    const std::string key =
        "soak:rl:" + Num(static_cast<uint64_t>(WallMs() / 10000)) + ":" + Num(rng() % 50);
    return {{{"INCR", key}, {"PEXPIRE", key, "30000", "NX"}}, 2};
  }
  const std::string key = "soak:sess:" + Num(rng() % 20000);
  const std::string ttl = Num(1000 + rng() % 59000);
  return {{{"SET", key, RandomBytes(rng, 32), "PX", ttl}}, 1};
}

Step Big(uint64_t i, std::mt19937_64& rng) {
  switch (i % 4) {
    case 0:
    case 1: {
      const size_t size = (256 << 10) + rng() % (6 << 20);
      return {{{"SET", "soak:big:" + Num(i % 6), RandomBytes(rng, size)}}, 1};
    }
    case 2: {
      const std::string key = "soak:bighash:" + Num(i % 3);
      std::vector<std::string> hset = {"HSET", key};
      for (int f = 0; f < 5000; ++f) {
        hset.push_back("f" + Num(f));
        hset.push_back(RandomBytes(rng, 16));
      }
      return {{{"DEL", key}, std::move(hset)}, 2};
    }
    default: {
      std::vector<std::string> rpush = {"RPUSH", "soak:biglist"};
      for (int e = 0; e < 1000; ++e) rpush.push_back(Num(i) + ":" + Num(e));
      return {{std::move(rpush), {"LTRIM", "soak:biglist", "-200000", "-1"}}, 2};
    }
  }
}

struct ThreadResult {
  std::string name;
  uint64_t writes = 0;
  uint64_t steps = 0;
  std::string error;
};

// The first error reply in `reply` (an EXEC's array holds one reply per queued command).
std::string FirstError(const kf::resp::Reply& reply) {
  if (reply.is_error()) return reply.str();
  for (const auto& child : reply.children()) {
    std::string e = FirstError(child);
    if (!e.empty()) return e;
  }
  return "";
}

// Runs one writer: steps paced so that writes go at `rate` per second (0 = `interval`
// between steps instead), until the stop flag or the deadline.
void RunWriter(const kf::net::Uri& uri, Generator gen, double rate,
               std::chrono::milliseconds interval, Clock::time_point deadline, uint64_t seed,
               ThreadResult* out) {
  kf::net::Client client;
  kf::net::ClientOptions options;
  options.client_name = "soak-" + out->name;
  options.io_timeout = std::chrono::milliseconds(30000);
  if (auto c = client.Connect(uri, options); !c) {
    out->error = "connect: " + c.error().ToString();
    return;
  }
  std::mt19937_64 rng(seed);
  const auto start = Clock::now();
  auto next_big = start;
  for (uint64_t i = 0; !g_stop && Clock::now() < deadline; ++i) {
    if (rate <= 0) {
      while (!g_stop && Clock::now() < next_big && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (g_stop || Clock::now() >= deadline) break;
      next_big += interval;
    }
    Step step = gen(i, rng);
    auto replies = client.CallPipelined(step.commands);
    if (!replies) {
      out->error = "step " + Num(i) + " (" + step.commands.front().front() +
                   "): " + replies.error().ToString();
      return;
    }
    for (size_t c = 0; c < replies->size(); ++c) {
      std::string e = FirstError((*replies)[c]);
      if (!e.empty()) {
        out->error = step.commands[c].front() + " refused: " + e;
        return;
      }
    }
    out->writes += step.writes;
    ++out->steps;
    if (rate > 0) {
      auto due = start + std::chrono::microseconds(
                             static_cast<int64_t>(static_cast<double>(out->writes) * 1e6 / rate));
      if (due > Clock::now()) std::this_thread::sleep_until(due);
    }
  }
}

int Usage(const std::string& problem) {
  std::fprintf(stderr,
               "kf_soak_writer: %s\n"
               "usage: kf_soak_writer seed --uri URI [--keys N]\n"
               "       kf_soak_writer run --uri URI [--rate OPS_PER_S] [--seconds N] [--seed S]\n",
               problem.c_str());
  return 2;
}

bool ParsePositive(const std::string& text, uint64_t* out) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v == 0) return false;
  *out = v;
  return true;
}

// Sends `commands` in pipelined chunks; returns the first error, or "".
std::string SendAll(kf::net::Client& client, Commands& commands) {
  auto replies = client.CallPipelined(commands);
  commands.clear();
  if (!replies) return replies.error().ToString();
  for (const auto& r : *replies) {
    if (r.is_error()) return r.str();
  }
  return "";
}

int Seed(const kf::net::Uri& uri, uint64_t keys) {
  const auto start = Clock::now();
  kf::net::Client client;
  if (auto c = client.Connect(uri); !c) {
    std::fprintf(stderr, "kf_soak_writer seed: %s\n", c.error().ToString().c_str());
    return 2;
  }
  std::mt19937_64 rng(1);
  Commands batch;
  for (uint64_t i = 0; i < keys; ++i) {
    if (i % 500 == 0) batch.push_back({"SELECT", i % 1000 < 500 ? "0" : "1"});
    const std::string id = Num(i);
    switch (i % 6) {
      case 0:
        batch.push_back({"SET", "seed:s:" + id, RandomBytes(rng, 20 + rng() % 200)});
        break;
      case 1:
        batch.push_back({"HSET", "seed:h:" + id, "a", id, "b", RandomBytes(rng, 40)});
        break;
      case 2:
        batch.push_back({"RPUSH", "seed:l:" + id, "x", "y", id});
        break;
      case 3:
        batch.push_back({"SADD", "seed:set:" + id, "a", "b", id});
        break;
      case 4:
        batch.push_back({"ZADD", "seed:z:" + id, "1.5", "a", "2.25", id});
        break;
      default:
        batch.push_back({"XADD", "seed:x:" + id, "*", "f", id});
        break;
    }
    if (batch.size() >= 1000) {
      if (auto e = SendAll(client, batch); !e.empty()) {
        std::fprintf(stderr, "kf_soak_writer seed: %s\n", e.c_str());
        return 2;
      }
    }
  }
  batch.push_back({"SELECT", "0"});
  for (int i = 0; i < 2; ++i)
    batch.push_back({"SET", "seed:big:" + Num(i), RandomBytes(rng, 8 << 20)});
  for (int from = 0; from < 100000; from += 10000) {
    std::vector<std::string> rpush = {"RPUSH", "seed:biglist"};
    for (int e = from; e < from + 10000; ++e) rpush.push_back(Num(e));
    batch.push_back(std::move(rpush));
  }
  for (int from = 0; from < 50000; from += 10000) {
    std::vector<std::string> hset = {"HSET", "seed:bighash"};
    for (int f = from; f < from + 10000; ++f) {
      hset.push_back("f" + Num(f));
      hset.push_back(Num(f));
    }
    batch.push_back(std::move(hset));
  }
  if (auto e = SendAll(client, batch); !e.empty()) {
    std::fprintf(stderr, "kf_soak_writer seed: %s\n", e.c_str());
    return 2;
  }
  std::printf("soak_seed keys=%llu seconds=%.1f\n", static_cast<unsigned long long>(keys + 4),
              std::chrono::duration<double>(Clock::now() - start).count());
  return 0;
}

int Run(const kf::net::Uri& uri, uint64_t rate, uint64_t seconds, uint64_t seed) {
  struct Writer {
    const char* name;
    Generator gen;
  };
  const std::vector<Writer> paced = {
      {"counters", Counters},         {"lists", Lists}, {"sets", Sets}, {"streams", Streams},
      {"transactions", Transactions}, {"ttl", Ttl}};
  std::vector<ThreadResult> results(paced.size() + 1);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(seconds);
  const double share = static_cast<double>(rate) / static_cast<double>(paced.size());
  for (size_t t = 0; t < paced.size(); ++t) {
    results[t].name = paced[t].name;
    threads.emplace_back(RunWriter, uri, paced[t].gen, share, std::chrono::milliseconds(0),
                         deadline, seed * 100 + t, &results[t]);
  }
  results.back().name = "big";
  threads.emplace_back(RunWriter, uri, Generator(Big), 0.0, std::chrono::milliseconds(5000),
                       deadline, seed * 100 + 99, &results.back());
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  uint64_t writes = 0;
  int errors = 0;
  for (const auto& r : results) {
    writes += r.writes;
    std::printf("soak_writer thread=%s writes=%llu steps=%llu%s%s\n", r.name.c_str(),
                static_cast<unsigned long long>(r.writes), static_cast<unsigned long long>(r.steps),
                r.error.empty() ? "" : " error=", r.error.c_str());
    if (!r.error.empty()) {
      ++errors;
      std::fprintf(stderr, "kf_soak_writer: thread %s stopped: %s\n", r.name.c_str(),
                   r.error.c_str());
    }
  }
  std::printf("soak_writer writes=%llu seconds=%.1f writes_per_s=%.0f errors=%d\n",
              static_cast<unsigned long long>(writes), elapsed,
              elapsed > 0 ? static_cast<double>(writes) / elapsed : 0.0, errors);
  return errors == 0 ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage("a mode is needed: seed or run");
  const std::string mode = argv[1];
  if (mode != "seed" && mode != "run") return Usage("unknown mode " + mode);
  std::string uri_text;
  uint64_t keys = 100000, rate = 3000, seconds = 86400, seed = 1;
  for (int i = 2; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage(flag + " needs a value");
    const std::string value = argv[i + 1];
    bool ok = true;
    if (flag == "--uri") {
      uri_text = value;
    } else if (mode == "seed" && flag == "--keys") {
      ok = ParsePositive(value, &keys);
    } else if (mode == "run" && flag == "--rate") {
      ok = ParsePositive(value, &rate);
    } else if (mode == "run" && flag == "--seconds") {
      ok = ParsePositive(value, &seconds);
    } else if (mode == "run" && flag == "--seed") {
      ok = ParsePositive(value, &seed);
    } else {
      return Usage("unknown option " + flag + " for " + mode);
    }
    if (!ok) return Usage("bad value for " + flag + ": " + value);
  }
  if (uri_text.empty()) return Usage("--uri is required");
  auto uri = kf::net::Uri::Parse(uri_text);
  if (!uri) return Usage("--uri: " + uri.error().ToString());
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return mode == "seed" ? Seed(*uri, keys) : Run(*uri, rate, seconds, seed);
}
