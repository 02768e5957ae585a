// The dashboard in a real browser, during a real live sync: a Redis 7.0 source under a
// writer, `keyferry apply --listen 127.0.0.1:<free port>` with a token and held in CATCH_UP
// (KEYFERRY_TEST_HOLD_PHASE), and headless Chromium driven by
// tests/browser/dashboard_check.mjs (playwright-core pointed at /usr/bin/chromium). The
// page must show the journal's phase and a key count > 0, a chart must gain points, an
// event the test journals must appear at the top of the event log, and every request the
// page makes must go to 127.0.0.1. Also: without the token every path answers 401.
//
// Chromium and node are installed by scripts/setup.sh (and playwright-core by `npm ci` in
// tests/browser, also run by setup.sh); when they are missing the test fails saying so.
// The screenshot is written to the build dir; KEYFERRY_UPDATE_SCREENSHOT=1 also copies it
// to docs/dashboard.png (`make dashboard-screenshot`).
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "control/journal.h"
#include "control/provider.h"
#include "harness/dataset.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "net/client.h"

namespace kf::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kToken = "dashboard-test-token_42";

// What the browser test needs, each with the way to get it.
std::string MissingBrowserTools() {
  std::string missing;
  const char* chromium = std::getenv("KEYFERRY_CHROMIUM");
  std::string chromium_path = chromium != nullptr ? chromium : "/usr/bin/chromium";
  if (!std::filesystem::exists(chromium_path)) {
    missing += "Chromium (" + chromium_path + "); ";
  }
  Subprocess node({"/usr/bin/env", "node", "--version"});
  if (node.Wait(seconds(20)) != 0) missing += "node (20 or newer); ";
  if (!std::filesystem::exists(std::string(KF_SOURCE_DIR) +
                               "/tests/browser/node_modules/playwright-core/package.json")) {
    missing += "playwright-core (npm ci in tests/browser); ";
  }
  return missing;
}

// Keeps writing to the source until stopped (bounded to three minutes).
class Writer {
 public:
  explicit Writer(net::Uri uri) : uri_(std::move(uri)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Writer() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    net::Client client;
    if (!client.Connect(uri_)) return;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
    for (uint64_t seq = 0; !stop_ && std::chrono::steady_clock::now() < deadline; ++seq) {
      if (!client.Call({"SET", "live:" + std::to_string(seq % 500), std::to_string(seq)})) return;
      if (seq % 10 == 0) std::this_thread::sleep_for(milliseconds(2));
    }
  }
  net::Uri uri_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(DashboardBrowserTest, ShowsALiveSyncInHeadlessChromium) {
  std::string missing = MissingBrowserTools();
  ASSERT_TRUE(missing.empty()) << "the browser test needs " << missing
                               << "run scripts/setup.sh (it installs Debian's chromium, and "
                                  "playwright-core with npm ci in tests/browser)";

  auto source =
      ServerProcess::Start(ServerKind::kRedis, {.config = {{"repl-diskless-sync-delay", "0"}}});
  ASSERT_TRUE(source);
  for (int batch = 0; batch < 20; ++batch) {
    std::vector<std::string> mset = {"MSET"};
    for (int i = 0; i < 100; ++i) {
      mset.push_back("seed:" + std::to_string(batch * 100 + i));
      mset.push_back(std::string(64, 'v'));
    }
    ASSERT_EQ(source->Call(mset), "OK");
  }
  Writer writer(UriOf(source->uri()));

  std::string dir = MakeTempDir("kf-dashboard-");
  std::string spec_path = dir + "/dash.yaml";
  std::string state_dir = dir + "/keyferry-state/dash";
  std::ofstream(spec_path) << "name: dash\n"
                              "source:\n"
                              "  uri: redis://127.0.0.1:"
                           << source->port()
                           << "\n"
                              "target:\n"
                              "  engine: valkey\n"
                              "  version: \"8.0\"\n"
                              "  provider: local\n"
                              "after_cutover:\n"
                              "  source: keep\n";
  ::setenv("KF_DASHBOARD_TEST_TOKEN", kToken, 1);
  const int port = FreeLoopbackPort();
  Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=CATCH_UP:120000", KeyferryBinary(), "apply",
                    "-f", spec_path, "--auto-approve", "--listen",
                    "127.0.0.1:" + std::to_string(port), "--listen-token-env",
                    "KF_DASHBOARD_TEST_TOKEN"});
  auto journal_phase = [&]() -> std::string {
    auto journal = control::Journal::Open(state_dir, false);
    if (!journal) return "";
    auto phase = (*journal)->Get(control::kKeyPhase);
    return phase && *phase ? **phase : "";
  };
  bool reached = false;
  for (int i = 0; i < 600 && !reached; ++i) {  // up to 60 s
    reached = journal_phase() == "CATCH_UP";
    if (!reached) std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_TRUE(reached) << "apply never reached CATCH_UP\n" << apply.Stderr();

  // The token: every path answers 401 without it; the page with it carries it on.
  httplib::Client http("127.0.0.1", port);
  for (const char* path : {"/", "/index.html", "/app.js", "/style.css", "/status", "/api/live",
                           "/api/nodes", "/api/events", "/api/timeline"}) {
    auto denied = http.Get(path);
    ASSERT_TRUE(denied) << path;
    EXPECT_EQ(denied->status, 401) << path;
  }
  auto page = http.Get(std::string("/?token=") + kToken);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page->get_header_value("Content-Security-Policy"), "default-src 'self'");
  EXPECT_EQ(page->get_header_value("Cache-Control"), "no-store");
  EXPECT_NE(page->body.find(std::string("app.js?token=") + kToken), std::string::npos);

  // The browser, with a hand-shake through files for the event the test journals.
  std::string sync_dir = dir + "/browser";
  std::filesystem::create_directories(sync_dir);
  std::string shot = std::string(KF_BUILD_DIR) + "/dashboard.png";
  std::filesystem::remove(shot);
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/?token=" + kToken;
  Subprocess browser({"/usr/bin/env", "node",
                      std::string(KF_SOURCE_DIR) + "/tests/browser/dashboard_check.mjs", url, shot,
                      sync_dir});
  bool ready = false;
  for (int i = 0; i < 900 && !ready && browser.running(); ++i) {  // up to 90 s
    ready = std::filesystem::exists(sync_dir + "/ready");
    if (!ready) std::this_thread::sleep_for(milliseconds(100));
  }
  std::string phase_when_read = journal_phase();
  const std::string marker =
      "dashboard test marker " + std::to_string(::getpid()) + "-" + std::to_string(port);
  int64_t marker_id = 0;
  if (ready) {
    auto journal = control::Journal::Open(state_dir, control::Journal::Mode::kReadWrite);
    ASSERT_TRUE(journal) << journal.error().ToString();
    control::Event event;
    event.phase = control::Phase::kCatchUp;
    event.kind = control::EventKind::kInfo;
    event.message = marker;
    auto id = (*journal)->AppendEvent(event);
    ASSERT_TRUE(id) << id.error().ToString();
    marker_id = *id;
    std::ofstream(sync_dir + "/event") << marker << "\n";
  }
  ASSERT_EQ(browser.Wait(seconds(120)), 0) << browser.Stderr() << browser.Stdout();
  ASSERT_TRUE(ready) << "the browser never got ready\n" << browser.Stdout() << browser.Stderr();
  auto result = nlohmann::json::parse(browser.Stdout(), nullptr, false);
  ASSERT_FALSE(result.is_discarded()) << browser.Stdout() << browser.Stderr();
  SCOPED_TRACE(result.dump(2));
  EXPECT_FALSE(result.contains("error")) << result.value("error", "");
  EXPECT_EQ(result.value("done", false), true);

  // The phase shown is the journal's (the hold keeps it in CATCH_UP meanwhile).
  EXPECT_EQ(result.value("phase", ""), phase_when_read);
  EXPECT_EQ(phase_when_read, "CATCH_UP");
  EXPECT_GT(result.value("keys", 0.0), 0.0);
  EXPECT_GT(result.value("points_after", 0), result.value("points_before", 0));
  // Both sides' nodes, read by the refresher: the source is Redis, the target Valkey.
  EXPECT_NE(result.value("source_nodes", "").find("7.0"), std::string::npos);
  EXPECT_NE(result.value("target_nodes", "").find("valkey"), std::string::npos);
  EXPECT_NE(result.value("timeline", "").find("FULL_SYNC"), std::string::npos);
  // The journaled event is at the top of the log (newest first).
  ASSERT_TRUE(result.contains("event_shown"));
  EXPECT_EQ(result["event_shown"].value("id", int64_t{0}), marker_id);
  // Every request went to this server on 127.0.0.1, and none failed.
  EXPECT_TRUE(result["non_local"].empty());
  ASSERT_FALSE(result["requests"].empty());
  const std::string origin = "http://127.0.0.1:" + std::to_string(port);
  for (const auto& request : result["requests"]) {
    EXPECT_EQ(request.get<std::string>().rfind(origin, 0), 0u) << request;
  }
  EXPECT_TRUE(result["failed"].empty());
  EXPECT_TRUE(result["console_errors"].empty());
  ASSERT_TRUE(std::filesystem::exists(shot));
  EXPECT_GT(std::filesystem::file_size(shot), 10000u);
  if (const char* update = std::getenv("KEYFERRY_UPDATE_SCREENSHOT");
      update != nullptr && std::string(update) == "1") {
    std::filesystem::copy_file(shot, std::string(KF_SOURCE_DIR) + "/docs/dashboard.png",
                               std::filesystem::copy_options::overwrite_existing);
  }

  // Stop the apply (it rolls back: the cutover was never reached) and what it started.
  writer.Stop();
  apply.Signal(SIGTERM);
  EXPECT_EQ(apply.Wait(seconds(60)), 1) << apply.Stderr();
  if (auto journal = control::Journal::Open(state_dir, false); journal) {
    auto pid = (*journal)->Get(control::kKeyTargetPid);
    if (pid && *pid) ::kill(static_cast<pid_t>(std::stol(**pid)), SIGKILL);
  }
  RemoveTree(dir);
}

}  // namespace
}  // namespace kf::test
