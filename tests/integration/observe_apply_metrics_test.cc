// /metrics of a migration: a real `keyferry apply --listen` to DONE (held in FULL_SYNC,
// CATCH_UP and DECOMMISSION so scrapes land in each, the live sync running), scraped every 100 ms
// over 127.0.0.1 and parsed by the Prometheus Python client (Debian's python3-prometheus-client):
// the phase series moves from FULL_SYNC/CATCH_UP to a later phase, no counter goes down between two
// scrapes, and keys_copied_total is the source's key count once the snapshot is applied. Then
// `keyferry status --listen` (a second process, the journal alone) serves the write pause,
// VERIFY's numbers and DONE. Last, an apply from a 3-primary Redis Cluster source serves one
// series per source shard, labeled shard="s<lowest slot>", whose keys add up to the source's,
// and so does a sync from it (--status-addr).
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "control/journal.h"
#include "harness/cluster_process.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "observe/keyferry_metrics.h"
#include "observe/migration_metrics.h"

namespace kf {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using namespace kf::test;

// Parses every file named on the command line with prometheus_client; a JSON list, one
// {family: {type, samples: [[name, labels, value]]}} per file (counters without _total).
const char* kParser = R"PY(
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for path in sys.argv[1:]:
    one = {}
    for f in text_string_to_metric_families(open(path).read()):
        one[f.name] = {"type": f.type, "samples": [
            [s.name, s.labels, None if math.isnan(s.value) else s.value] for s in f.samples]}
    out.append(one)
print(json.dumps(out))
)PY";

nlohmann::json ParseAll(const std::vector<std::string>& bodies, const std::string& dir) {
  std::vector<std::string> argv = {"/usr/bin/python3", "-c", kParser};
  for (size_t i = 0; i < bodies.size(); ++i) {
    std::string path = dir + "/scrape" + std::to_string(i) + ".txt";
    std::ofstream(path) << bodies[i];
    argv.push_back(path);
  }
  Subprocess python(argv);
  EXPECT_EQ(python.Wait(seconds(60)), 0) << python.Stderr();
  return nlohmann::json::parse(python.Stdout(), nullptr, false);
}

// The unlabeled sample `name` of `family`, or -1.
double Value(const nlohmann::json& families, const std::string& family, const std::string& name) {
  if (!families.contains(family)) return -1;
  for (const auto& s : families[family]["samples"]) {
    if (s[0] == name && s[1].empty() && !s[2].is_null()) return s[2].get<double>();
  }
  return -1;
}

// The phase whose keyferry_phase gauge is 1 ("" when none).
std::string CurrentPhase(const nlohmann::json& families) {
  if (!families.contains("keyferry_phase")) return "";
  for (const auto& s : families["keyferry_phase"]["samples"]) {
    if (s[2] == 1.0) return s[1]["phase"];
  }
  return "";
}

int PhaseIndex(const std::string& phase) {
  auto names = observe::MigrationPhaseNames();
  auto it = std::find(names.begin(), names.end(), phase);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

// A scrape of a cluster source's copy (3 primaries, snapshots applied): one series per
// source shard, labeled shard="s<lowest slot>", none unlabeled, keys adding up to the
// source's, one full sync and a finished snapshot each.
void ExpectShardSeries(const nlohmann::json& m, const std::string& body, long source_keys) {
  ASSERT_TRUE(m.is_object()) << body;
  std::set<std::string> shards;
  double keys = 0;
  for (const auto& s : m["keyferry_keys_copied"]["samples"]) {
    if (s[0] != "keyferry_keys_copied_total") continue;
    ASSERT_TRUE(s[1].contains("shard")) << "a sample without a shard label:\n" << body;
    shards.insert(s[1]["shard"].get<std::string>());
    keys += s[2].get<double>();
  }
  // One per source shard, named by its lowest slot (s0 and two more).
  EXPECT_EQ(shards.size(), 3u) << body;
  EXPECT_TRUE(shards.contains("s0")) << body;
  for (const auto& name : shards) {
    ASSERT_GE(name.size(), 2u);
    EXPECT_EQ(name[0], 's') << name;
    int slot = std::atoi(name.c_str() + 1);
    EXPECT_TRUE(slot >= 0 && slot < 16384 && name == "s" + std::to_string(slot)) << name;
  }
  EXPECT_EQ(keys, static_cast<double>(source_keys)) << body;
  int full_syncs = 0, progress_done = 0;
  for (const auto& s : m["keyferry_full_syncs"]["samples"]) {
    if (s[0] == "keyferry_full_syncs_total" && s[2] == 1.0) ++full_syncs;
  }
  for (const auto& s : m["keyferry_snapshot_progress_ratio"]["samples"]) {
    if (s[1].contains("shard") && s[2] == 1.0) ++progress_done;
  }
  EXPECT_EQ(full_syncs, 3) << body;
  EXPECT_EQ(progress_done, 3) << body;
}

TEST(ObserveApplyMetricsTest, ApplyAndStatusServeTheMigrationsMetrics) {
  auto source =
      ServerProcess::Start(ServerKind::kRedis, {.config = {{"repl-diskless-sync-delay", "0"}}});
  ASSERT_TRUE(source);
  constexpr int kKeys = 2000;
  for (int batch = 0; batch < kKeys / 100; ++batch) {
    std::vector<std::string> mset = {"MSET"};
    for (int i = 0; i < 100; ++i) {
      mset.push_back("key:" + std::to_string(batch * 100 + i));
      mset.push_back("value-" + std::to_string(i));
    }
    ASSERT_EQ(source->Call(mset), "OK");
  }
  std::string dir = MakeTempDir("kf-apply-metrics");
  std::string spec = dir + "/spec.yaml";
  std::ofstream(spec) << "name: metrics-demo\n"
                         "source:\n"
                         "  uri: redis://127.0.0.1:"
                      << source->port()
                      << "\n"
                         "target:\n"
                         "  engine: valkey\n"
                         "  version: \"8.0\"\n"
                         "  provider: local\n"
                         "migration:\n"
                         "  max_pause_ms: 5000\n"
                         "cutover:\n"
                         "  hook: \"true\"\n"
                         "after_cutover:\n"
                         "  source: keep\n";
  std::string state_dir = dir + "/keyferry-state/metrics-demo";
  int port = FreeLoopbackPort();
  Subprocess apply({"env",
                    "KEYFERRY_TEST_HOLD_PHASE=FULL_SYNC:1500,CATCH_UP:3000,DECOMMISSION:1500",
                    KeyferryBinary(), "apply", "-f", spec, "--auto-approve", "--listen",
                    "127.0.0.1:" + std::to_string(port)});
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(seconds(2));
  client.set_read_timeout(seconds(10));

  // Scrape every 100 ms until apply exits (at most 120 s). Stream traffic once the
  // snapshot is applied (CATCH_UP in /status), so the stream counters move.
  std::vector<std::string> bodies;
  bool writing = false;
  int incrs = 0;
  auto deadline = std::chrono::steady_clock::now() + seconds(120);
  while (apply.running() && std::chrono::steady_clock::now() < deadline) {
    auto r = client.Get("/metrics");
    if (r && r->status == 200) {
      EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
      bodies.push_back(r->body);
      writing =
          writing || r->body.find("keyferry_phase{phase=\"CATCH_UP\"} 1") != std::string::npos;
    }
    if (writing && incrs < 200) {
      for (int i = 0; i < 10; ++i, ++incrs) source->Call({"INCR", "counter"});
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_EQ(apply.Wait(seconds(30)), 0) << apply.Stderr();
  EXPECT_NE(apply.Stderr().find("serving /status and /metrics on http://127.0.0.1:"),
            std::string::npos)
      << apply.Stderr();
  ASSERT_GE(bodies.size(), 10u) << apply.Stderr();
  nlohmann::json scrapes = ParseAll(bodies, dir);
  ASSERT_TRUE(scrapes.is_array()) << bodies.front();
  ASSERT_EQ(scrapes.size(), bodies.size());

  // Every documented metric, with its type.
  const nlohmann::json& first = scrapes.front();
  for (const std::string& name : observe::KeyferryMetricNames()) {
    bool counter = name.ends_with("_total");
    std::string family = counter ? name.substr(0, name.size() - 6) : name;
    ASSERT_TRUE(first.contains(family)) << name << "\n" << bodies.front();
    EXPECT_EQ(first[family]["type"], counter ? "counter" : "gauge") << name;
  }

  // The phase moves forward: FULL_SYNC or CATCH_UP, later a phase after CATCH_UP.
  int first_live = -1, later = -1;
  std::vector<std::string> seen;
  for (size_t i = 0; i < scrapes.size(); ++i) {
    std::string phase = CurrentPhase(scrapes[i]);
    if (seen.empty() || seen.back() != phase) seen.push_back(phase);
    if (first_live < 0 && (phase == "FULL_SYNC" || phase == "CATCH_UP")) first_live = i;
    if (first_live >= 0 && later < 0 && PhaseIndex(phase) > PhaseIndex("CATCH_UP")) later = i;
    EXPECT_GT(Value(scrapes[i], "keyferry_phase_started_timestamp_seconds",
                    "keyferry_phase_started_timestamp_seconds"),
              1.6e9)
        << bodies[i];
  }
  std::string phases;
  for (const auto& p : seen) phases += p + " ";
  EXPECT_GE(first_live, 0) << phases;
  EXPECT_GT(later, first_live) << phases;

  // Counters never go down between two scrapes of the one apply process.
  for (size_t i = 1; i < scrapes.size(); ++i) {
    for (const auto& [family, data] : scrapes[i - 1].items()) {
      if (data["type"] != "counter") continue;
      for (const auto& s : data["samples"]) {
        if (s[2].is_null()) continue;
        double before = s[2], after = -1;
        for (const auto& t : scrapes[i][family]["samples"]) {
          if (t[0] == s[0] && t[1] == s[1]) after = t[2];
        }
        EXPECT_GE(after, before) << s[0] << " " << s[1] << " went down at scrape " << i;
      }
    }
  }

  // Once the snapshot is applied (CATCH_UP and later): every source key copied, progress 1.
  int checked = 0;
  double commands_first = -1, commands_last = -1;
  for (size_t i = 0; i < scrapes.size(); ++i) {
    int at = PhaseIndex(CurrentPhase(scrapes[i]));
    if (at < PhaseIndex("CATCH_UP") || at > PhaseIndex("DONE")) continue;
    ++checked;
    EXPECT_EQ(Value(scrapes[i], "keyferry_keys_copied", "keyferry_keys_copied_total"), kKeys)
        << bodies[i];
    EXPECT_EQ(
        Value(scrapes[i], "keyferry_snapshot_progress_ratio", "keyferry_snapshot_progress_ratio"),
        1)
        << bodies[i];
    EXPECT_GT(Value(scrapes[i], "keyferry_bytes_copied", "keyferry_bytes_copied_total"), 0);
    double commands =
        Value(scrapes[i], "keyferry_commands_applied", "keyferry_commands_applied_total");
    if (commands_first < 0) commands_first = commands;
    commands_last = commands;
  }
  EXPECT_GT(checked, 0);
  EXPECT_GT(incrs, 0);
  EXPECT_GT(commands_last, commands_first) << "the INCRs should show as stream commands";
  EXPECT_EQ(Value(scrapes.back(), "keyferry_full_syncs", "keyferry_full_syncs_total"), 1);
  EXPECT_GT(Value(scrapes.back(), "process_resident_memory_bytes", "process_resident_memory_bytes"),
            1e6);

  // status --listen, another process, from the journal alone.
  int status_port = FreeLoopbackPort();
  Subprocess status({KeyferryBinary(), "status", "-f", spec, "--listen",
                     "127.0.0.1:" + std::to_string(status_port)});
  httplib::Client status_client("127.0.0.1", status_port);
  status_client.set_connection_timeout(seconds(2));
  status_client.set_read_timeout(seconds(10));
  std::string body;
  for (int i = 0; i < 100 && body.empty() && status.running(); ++i) {
    auto r = status_client.Get("/metrics");
    if (r && r->status == 200) {
      body = r->body;
    } else {
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  ASSERT_FALSE(body.empty()) << status.Stderr();
  nlohmann::json done = ParseAll({body}, dir)[0];
  EXPECT_EQ(CurrentPhase(done), "DONE") << body;
  EXPECT_GT(Value(done, "keyferry_write_pause_seconds", "keyferry_write_pause_seconds"), 0) << body;
  EXPECT_LT(Value(done, "keyferry_write_pause_seconds", "keyferry_write_pause_seconds"), 5) << body;
  // The live verify compared every key; the check inside the pause added the last written.
  EXPECT_GE(Value(done, "keyferry_verify_keys_checked", "keyferry_verify_keys_checked_total"),
            kKeys)
      << body;
  EXPECT_EQ(Value(done, "keyferry_verify_differences", "keyferry_verify_differences"), 0) << body;
  EXPECT_EQ(Value(done, "keyferry_keys_copied", "keyferry_keys_copied_total"), kKeys) << body;
  EXPECT_GT(Value(done, "keyferry_commands_applied", "keyferry_commands_applied_total"), 0) << body;
  status.Signal(SIGTERM);
  EXPECT_EQ(status.Wait(seconds(30)), 0) << status.Stderr();
  EXPECT_NE(status.Stderr().find("serving /status and /metrics of metrics-demo"), std::string::npos)
      << status.Stderr();

  // The target valkey-server the migration kept running (by its pid).
  auto journal = control::Journal::Open(state_dir, false);
  if (journal) {
    auto pid = (*journal)->Get("target.pid");
    if (pid && *pid) ::kill(static_cast<pid_t>(std::stol(**pid)), SIGKILL);
  }
  RemoveTree(dir);
}

TEST(ObserveApplyMetricsTest, ClusterSourceApplyLabelsEveryShard) {
  auto cluster = ClusterProcess::Start(ServerKind::kRedis, {.primaries = 3});
  ASSERT_TRUE(cluster);
  SeedEveryTypeForCompare(*cluster);
  ASSERT_FALSE(HasFatalFailure());
  long source_keys = 0;
  for (ServerProcess* p : cluster->Primaries()) source_keys += std::stol(p->Call({"DBSIZE"}));
  ASSERT_GT(source_keys, 0);
  std::string dir = MakeTempDir("kf-apply-metrics-cluster");
  std::string spec = dir + "/spec.yaml";
  std::ofstream(spec) << "name: metrics-cluster\n"
                         "source:\n"
                         "  uri: "
                      << cluster->uri()
                      << "\n"
                         "target:\n"
                         "  engine: valkey\n"
                         "  version: \"8.0\"\n"
                         "  provider: local\n"
                         "migration:\n"
                         "  max_pause_ms: 8000\n"
                         "cutover:\n"
                         "  hook: \"true\"\n"
                         "after_cutover:\n"
                         "  source: keep\n";
  int port = FreeLoopbackPort();
  Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=CATCH_UP:3000", KeyferryBinary(), "apply",
                    "-f", spec, "--auto-approve", "--listen", "127.0.0.1:" + std::to_string(port)});
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(seconds(2));
  client.set_read_timeout(seconds(10));
  // The first scrape in CATCH_UP (the snapshots are applied), within 120 s.
  std::string body;
  auto deadline = std::chrono::steady_clock::now() + seconds(120);
  while (body.empty() && apply.running() && std::chrono::steady_clock::now() < deadline) {
    auto r = client.Get("/metrics");
    if (r && r->status == 200 &&
        r->body.find("keyferry_phase{phase=\"CATCH_UP\"} 1") != std::string::npos) {
      body = r->body;
    } else {
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  ASSERT_FALSE(body.empty()) << apply.Stderr();
  EXPECT_EQ(apply.Wait(seconds(120)), 0) << apply.Stderr();
  ExpectShardSeries(ParseAll({body}, dir)[0], body, source_keys);

  auto journal = control::Journal::Open(dir + "/keyferry-state/metrics-cluster", false);
  if (journal) {
    auto pid = (*journal)->Get("target.pid");
    if (pid && *pid) ::kill(static_cast<pid_t>(std::stol(**pid)), SIGKILL);
  }
  RemoveTree(dir);
}

TEST(ObserveApplyMetricsTest, ClusterSourceSyncLabelsEveryShard) {
  auto cluster = ClusterProcess::Start(ServerKind::kRedis, {.primaries = 3});
  ASSERT_TRUE(cluster);
  SeedEveryTypeForCompare(*cluster);
  ASSERT_FALSE(HasFatalFailure());
  long source_keys = 0;
  for (ServerProcess* p : cluster->Primaries()) source_keys += std::stol(p->Call({"DBSIZE"}));
  auto target = ServerProcess::Start(ServerKind::kValkey);
  ASSERT_TRUE(target);
  std::string dir = MakeTempDir("kf-sync-metrics-cluster");
  int port = FreeLoopbackPort();
  Subprocess sync({KeyferryBinary(), "sync", "--source", cluster->uri(), "--target", target->uri(),
                   "--status-addr", "127.0.0.1:" + std::to_string(port)});
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(seconds(2));
  client.set_read_timeout(seconds(10));
  bool streaming = false;
  for (int i = 0; i < 600 && !streaming && sync.running(); ++i) {
    auto status = client.Get("/status");
    streaming = status && status->status == 200 &&
                status->body.find("\"phase\":\"stream\"") != std::string::npos;
    if (!streaming) std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_TRUE(streaming) << sync.Stderr();
  auto r = client.Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  ExpectShardSeries(ParseAll({r->body}, dir)[0], r->body, source_keys);
  sync.Signal(SIGTERM);
  EXPECT_EQ(sync.Wait(seconds(30)), 0) << sync.Stderr();
  RemoveTree(dir);
}

}  // namespace
}  // namespace kf
