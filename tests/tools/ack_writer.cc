// kf_ack_writer: a writer that records every write the server acknowledged, and a checker
// that proves those writes are in another server (used by `make demo` and the apply bench).
//
//   kf_ack_writer write URI OUT_FILE [RATE_PER_S] [MAX_SECONDS]
//       SETs rec:<seq % 1000> = <seq> at about RATE_PER_S (default 5000) until SIGTERM, the
//       server goes away (decommissioned) or MAX_SECONDS (default 300). Writes the last
//       acknowledged value of each key to OUT_FILE ("key value" lines), and a summary line
//       (writes, seconds, writes/s, longest wait for one acknowledgement in ms) to stdout.
//   kf_ack_writer check URI IN_FILE
//       GETs every key of IN_FILE from URI; exit 0 when every value is there, 1 otherwise.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "net/client.h"
#include "net/uri.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

using Clock = std::chrono::steady_clock;

int Write(const kf::net::Uri& uri, const std::string& out, int rate, int max_seconds) {
  kf::net::Client client;
  kf::net::ClientOptions options;
  options.io_timeout = std::chrono::milliseconds(30000);
  if (auto c = client.Connect(uri, options); !c) {
    std::fprintf(stderr, "kf_ack_writer: %s\n", c.error().ToString().c_str());
    return 2;
  }
  std::map<std::string, std::string> acked;
  uint64_t writes = 0;
  int64_t longest_wait_us = 0;
  auto start = Clock::now();
  auto deadline = start + std::chrono::seconds(max_seconds);
  auto interval = std::chrono::microseconds(1000000 / (rate > 0 ? rate : 1));
  auto next = start;
  for (uint64_t seq = 0; !g_stop && Clock::now() < deadline; ++seq) {
    std::string key = "rec:" + std::to_string(seq % 1000);
    std::string value = std::to_string(seq);
    auto sent = Clock::now();
    auto reply = client.Call({"SET", key, value});
    if (!reply) break;  // the server went away
    auto waited =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent).count();
    if (waited > longest_wait_us) longest_wait_us = waited;
    if (reply->IsOk()) {
      acked[key] = value;
      ++writes;
    }
    next += interval;
    std::this_thread::sleep_until(next);
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::ofstream file(out);
  for (const auto& [k, v] : acked) file << k << " " << v << "\n";
  std::printf("writes %llu seconds %.1f rate %.0f longest_ack_wait_ms %.1f\n",
              static_cast<unsigned long long>(writes), seconds, writes / seconds,
              longest_wait_us / 1000.0);
  return 0;
}

int Check(const kf::net::Uri& uri, const std::string& in) {
  kf::net::Client client;
  if (auto c = client.Connect(uri); !c) {
    std::fprintf(stderr, "kf_ack_writer: %s\n", c.error().ToString().c_str());
    return 2;
  }
  std::ifstream file(in);
  std::string key, value;
  size_t total = 0, missing = 0;
  while (file >> key >> value) {
    ++total;
    auto reply = client.Call({"GET", key});
    if (!reply || reply->str() != value) {
      if (++missing <= 10) {
        std::printf("missing: %s (acknowledged %s, found %s)\n", key.c_str(), value.c_str(),
                    reply ? reply->ToString().c_str() : "error");
      }
    }
  }
  std::printf("%zu acknowledged keys checked, %zu missing\n", total, missing);
  return missing == 0 && total > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: kf_ack_writer write URI OUT_FILE [RATE] [MAX_SECONDS]\n"
                 "       kf_ack_writer check URI IN_FILE\n");
    return 2;
  }
  auto uri = kf::net::Uri::Parse(argv[2]);
  if (!uri) {
    std::fprintf(stderr, "kf_ack_writer: %s\n", uri.error().ToString().c_str());
    return 2;
  }
  std::string mode = argv[1];
  if (mode == "write") {
    signal(SIGTERM, OnSignal);
    signal(SIGINT, OnSignal);
    int rate = argc > 4 ? std::atoi(argv[4]) : 5000;
    int max_seconds = argc > 5 ? std::atoi(argv[5]) : 300;
    return Write(*uri, argv[3], rate, max_seconds);
  }
  if (mode == "check") return Check(*uri, argv[3]);
  std::fprintf(stderr, "kf_ack_writer: unknown mode %s\n", mode.c_str());
  return 2;
}
