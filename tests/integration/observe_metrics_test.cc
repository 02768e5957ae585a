// /metrics of keyferry sync: a real sync with --status-addr and a token, scraped over
// 127.0.0.1 and parsed by the Prometheus Python client (Debian's python3-prometheus-client,
// text_string_to_metric_families): every metric keyferry documents is there with its type,
// keys_copied_total equals the keys copied, counters do not go down between two scrapes,
// and a request without the token gets 401.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "observe/keyferry_metrics.h"

namespace kf {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using namespace kf::test;

constexpr const char* kToken = "metrics-test-token";

// Parses exposition text with prometheus_client; {family: {type, samples: [[name, labels,
// value]]}} (families named as the client names them: counters without _total).
const char* kParser = R"PY(
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    out[f.name] = {"type": f.type, "samples": [
        [s.name, s.labels, None if math.isnan(s.value) else s.value] for s in f.samples]}
print(json.dumps(out))
)PY";

nlohmann::json ParseWithPrometheusClient(const std::string& text, const std::string& dir, int n) {
  std::string path = dir + "/scrape" + std::to_string(n) + ".txt";
  std::ofstream(path) << text;
  Subprocess python({"/usr/bin/python3", "-c", kParser, path});
  EXPECT_EQ(python.Wait(seconds(30)), 0) << python.Stderr();
  return nlohmann::json::parse(python.Stdout(), nullptr, false);
}

// The value of the sample `name` (full name, e.g. keyferry_keys_copied_total) with no labels.
double Value(const nlohmann::json& families, const std::string& family, const std::string& name) {
  if (!families.contains(family)) return -1;
  for (const auto& s : families[family]["samples"]) {
    if (s[0] == name && s[1].empty() && !s[2].is_null()) return s[2].get<double>();
  }
  return -1;
}

TEST(ObserveMetricsTest, SyncServesParsableMetricsBehindItsToken) {
  auto source =
      ServerProcess::Start(ServerKind::kRedis, {.config = {{"repl-diskless-sync-delay", "0"}}});
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(source && target);
  constexpr int kKeys = 3000;
  for (int batch = 0; batch < kKeys / 100; ++batch) {
    std::vector<std::string> mset = {"MSET"};
    for (int i = 0; i < 100; ++i) {
      mset.push_back("key:" + std::to_string(batch * 100 + i));
      mset.push_back("value-" + std::to_string(i));
    }
    ASSERT_EQ(source->Call(mset), "OK");
  }
  std::string dir = MakeTempDir("kf-metrics");
  ::setenv("KF_METRICS_TEST_TOKEN", kToken, 1);
  int port = FreeLoopbackPort();
  Subprocess sync({KeyferryBinary(), "sync", "--source", source->uri(), "--target", target->uri(),
                   "--status-addr", "127.0.0.1:" + std::to_string(port), "--listen-token-env",
                   "KF_METRICS_TEST_TOKEN"});
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(seconds(5));
  client.set_read_timeout(seconds(10));
  httplib::Headers auth = {{"Authorization", std::string("Bearer ") + kToken}};

  // Wait for the stream phase (the snapshot is applied).
  bool streaming = false;
  for (int i = 0; i < 300 && !streaming; ++i) {
    auto status = client.Get("/status", auth);
    streaming = status && status->status == 200 &&
                status->body.find("\"phase\":\"stream\"") != std::string::npos;
    if (!streaming) std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_TRUE(streaming) << sync.Stderr();

  auto denied = client.Get("/metrics");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  auto wrong = client.Get("/metrics", {{"Authorization", "Bearer not-the-token"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);

  auto first = client.Get("/metrics", auth);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(first->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  for (int i = 0; i < 50; ++i) {  // some stream traffic between the scrapes
    source->Call({"INCR", "counter"});
  }
  std::this_thread::sleep_for(milliseconds(1500));
  auto second = client.Get("/metrics?token=" + std::string(kToken));
  ASSERT_TRUE(second);
  ASSERT_EQ(second->status, 200);

  nlohmann::json a = ParseWithPrometheusClient(first->body, dir, 1);
  nlohmann::json b = ParseWithPrometheusClient(second->body, dir, 2);
  ASSERT_TRUE(a.is_object() && b.is_object()) << first->body;

  // Every documented metric, with its type (the client drops _total from counter families).
  for (const std::string& name : observe::KeyferryMetricNames()) {
    bool counter = name.ends_with("_total");
    std::string family = counter ? name.substr(0, name.size() - 6) : name;
    ASSERT_TRUE(a.contains(family)) << name << "\n" << first->body;
    EXPECT_EQ(a[family]["type"], counter ? "counter" : "gauge") << name;
  }
  EXPECT_EQ(Value(a, "keyferry_keys_copied", "keyferry_keys_copied_total"), kKeys);
  EXPECT_GT(Value(a, "keyferry_bytes_copied", "keyferry_bytes_copied_total"), 0);
  EXPECT_EQ(Value(a, "keyferry_full_syncs", "keyferry_full_syncs_total"), 1);
  EXPECT_EQ(Value(a, "keyferry_snapshot_progress_ratio", "keyferry_snapshot_progress_ratio"), 1);
  EXPECT_GT(Value(a, "process_resident_memory_bytes", "process_resident_memory_bytes"), 1e6);
  EXPECT_GE(Value(a, "process_cpu_seconds", "process_cpu_seconds_total"), 0);
  bool stream_phase = false;
  for (const auto& s : a["keyferry_phase"]["samples"]) {
    if (s[1]["phase"] == "stream") stream_phase = s[2] == 1.0;
  }
  EXPECT_TRUE(stream_phase) << first->body;

  // Counters only grow; the 50 INCRs arrived as stream commands.
  for (const auto& [family, data] : a.items()) {
    if (data["type"] != "counter") continue;
    for (const auto& s : data["samples"]) {
      if (s[2].is_null()) continue;
      std::string name = s[0];
      double before = s[2], after = -1;
      for (const auto& t : b[family]["samples"]) {
        if (t[0] == s[0] && t[1] == s[1]) after = t[2];
      }
      EXPECT_GE(after, before) << name << " went down between two scrapes";
    }
  }
  EXPECT_GE(Value(b, "keyferry_commands_applied", "keyferry_commands_applied_total") -
                Value(a, "keyferry_commands_applied", "keyferry_commands_applied_total"),
            50);

  sync.Signal(SIGTERM);
  EXPECT_EQ(sync.Wait(seconds(30)), 0) << sync.Stderr();
  ::unsetenv("KF_METRICS_TEST_TOKEN");
  RemoveTree(dir);
}

}  // namespace
}  // namespace kf
