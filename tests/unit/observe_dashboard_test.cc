// The dashboard without a browser: the timeline folded from fixed events (phases and
// durations, a resumed phase, the write pause, the verify result and its first
// differences), the helpers, and the routes on an HttpServer over a journal in a temp dir:
// content types and headers, the token passed on to the assets, 401 without it on every
// path, /api/events?after=, and a node that cannot be read showing its error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "control/journal.h"
#include "observe/dashboard.h"
#include "observe/dashboard_assets.h"

namespace kf::observe {
namespace {

using control::Event;
using control::EventKind;
using control::Phase;
using ::testing::HasSubstr;

Event Ev(int64_t id, int64_t ms, Phase phase, EventKind kind, std::string data = "{}") {
  Event e;
  e.id = id;
  e.time_ms = ms;
  e.phase = phase;
  e.kind = kind;
  e.message = "m" + std::to_string(id);
  e.data_json = std::move(data);
  return e;
}

TEST(ObserveDashboard, TimelineHasEachPhaseWithItsDuration) {
  std::vector<Event> events = {
      Ev(1, 1000, Phase::kPreflight, EventKind::kStart),
      Ev(2, 1100, Phase::kPreflight, EventKind::kInfo),
      Ev(3, 1250, Phase::kPreflight, EventKind::kFinish),
      Ev(4, 1300, Phase::kFullSync, EventKind::kStart),
      // The apply died in FULL_SYNC and was resumed: the phase starts again.
      Ev(5, 9000, Phase::kFullSync, EventKind::kStart),
      Ev(6, 9500, Phase::kFullSync, EventKind::kFinish, R"({"keys": 10})"),
      Ev(7, 9600, Phase::kPauseWrites, EventKind::kStart),
      Ev(8, 9610, Phase::kPauseWrites, EventKind::kFinish),
      Ev(9, 9700, Phase::kCutover, EventKind::kStart),
      Ev(10, 9800, Phase::kCutover, EventKind::kFinish, R"({"pause_ms": 185, "target": "x"})"),
      Ev(11, 9900, Phase::kDone, EventKind::kFinish),
  };
  auto t = BuildTimeline(events);
  ASSERT_EQ(t["phases"].size(), 6u) << t.dump(2);
  EXPECT_EQ(t["phases"][0]["phase"], "PREFLIGHT");
  EXPECT_EQ(t["phases"][0]["duration_ms"], 250);
  EXPECT_EQ(t["phases"][0]["outcome"], "finish");
  EXPECT_EQ(t["phases"][1]["phase"], "FULL_SYNC");
  EXPECT_EQ(t["phases"][1]["outcome"], "interrupted");
  EXPECT_EQ(t["phases"][1]["duration_ms"], 7700);
  EXPECT_EQ(t["phases"][2]["duration_ms"], 500);
  EXPECT_EQ(t["phases"][4]["phase"], "CUTOVER");
  EXPECT_EQ(t["phases"][4]["duration_ms"], 100);
  EXPECT_EQ(t["phases"][5]["phase"], "DONE");
  EXPECT_EQ(t["pause"]["started_ms"], 9600);
  EXPECT_EQ(t["pause"]["pause_ms"], 185);  // as apply measured it, from the event's data
  EXPECT_EQ(t["pause"]["running"], false);
  EXPECT_EQ(t["apply_started_ms"], 1000);
  EXPECT_TRUE(t["verify"].is_null());
}

TEST(ObserveDashboard, TimelineShowsARunningPhaseAPauseInProgressAndARollback) {
  auto running = BuildTimeline({Ev(1, 1000, Phase::kPreflight, EventKind::kStart),
                                Ev(2, 1200, Phase::kPreflight, EventKind::kFinish),
                                Ev(3, 1300, Phase::kPauseWrites, EventKind::kStart)});
  ASSERT_EQ(running["phases"].size(), 2u);
  EXPECT_EQ(running["phases"][1]["outcome"], "running");
  EXPECT_TRUE(running["phases"][1]["duration_ms"].is_null());
  EXPECT_EQ(running["pause"]["running"], true);
  EXPECT_TRUE(running["pause"]["pause_ms"].is_null());

  auto rolled = BuildTimeline({Ev(1, 1000, Phase::kPauseWrites, EventKind::kStart),
                               Ev(2, 1400, Phase::kVerify, EventKind::kRollback),
                               Ev(3, 1500, Phase::kRolledBack, EventKind::kFinish)});
  ASSERT_EQ(rolled["phases"].size(), 2u) << rolled.dump(2);
  EXPECT_EQ(rolled["phases"][0]["outcome"], "rollback");
  EXPECT_EQ(rolled["phases"][1]["phase"], "ROLLED_BACK");
  EXPECT_EQ(rolled["pause"]["pause_ms"], 400);
  EXPECT_EQ(rolled["pause"]["running"], false);
  EXPECT_TRUE(BuildTimeline({})["pause"].is_null());
  EXPECT_TRUE(BuildTimeline({})["apply_started_ms"].is_null());
}

TEST(ObserveDashboard, VerifyResultKeepsTheFirstTenDifferences) {
  nlohmann::json report = {{"result", "different"}, {"mode", "full"},
                           {"differing_keys", 12},  {"source_keys_checked", 500},
                           {"elapsed_ms", 42},      {"examples", nlohmann::json::array()}};
  for (int i = 0; i < 12; ++i) report["examples"].push_back({{"key", "k" + std::to_string(i)}});
  auto t = BuildTimeline(
      {Ev(1, 1000, Phase::kCatchUp, EventKind::kInfo, R"({"result": "equal", "mode": "full"})"),
       Ev(2, 2000, Phase::kCatchUp, EventKind::kFail, report.dump())});
  ASSERT_FALSE(t["verify"].is_null());
  EXPECT_EQ(t["verify"]["event_id"], 2);  // the last report wins
  EXPECT_EQ(t["verify"]["result"], "different");
  EXPECT_EQ(t["verify"]["differing_keys"], 12);
  EXPECT_EQ(t["verify"]["keys_checked"], 500);
  ASSERT_EQ(t["verify"]["first_differences"].size(), 10u);
  EXPECT_EQ(t["verify"]["first_differences"][0]["key"], "k0");
}

TEST(ObserveDashboard, Helpers) {
  EXPECT_EQ(PercentEncode("a-Z_0.~"), "a-Z_0.~");
  EXPECT_EQ(PercentEncode("a b\"<&/"), "a%20b%22%3C%26%2F");
  EXPECT_EQ(ReplaceAll("x{{q}}y{{q}}", "{{q}}", "?t=1"), "x?t=1y?t=1");
  EXPECT_EQ(AssetContentType("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(AssetContentType("app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(AssetContentType("style.css"), "text/css; charset=utf-8");
  EXPECT_EQ(AssetContentType("favicon.svg"), "image/svg+xml");
  EXPECT_EQ(AssetContentType("x.bin"), "application/octet-stream");
  ListenOptions v4;
  v4.address = "127.0.0.1:0";
  EXPECT_EQ(ServedUrl(v4, 4321), "http://127.0.0.1:4321/");
  ListenOptions v6;
  v6.address = "[::1]:9121";
  EXPECT_EQ(ServedUrl(v6, 9121), "http://[::1]:9121/");
}

TEST(ObserveDashboard, AssetsAreEmbeddedAndLoadNothingFromElsewhere) {
  std::map<std::string, std::string> by_name;
  for (const auto& a : EmbeddedAssets()) by_name[std::string(a.name)] = std::string(a.body);
  ASSERT_TRUE(by_name.contains("index.html"));
  ASSERT_TRUE(by_name.contains("app.js"));
  ASSERT_TRUE(by_name.contains("style.css"));
  EXPECT_THAT(by_name["index.html"], HasSubstr("app.js{{asset_query}}"));
  for (auto [name, body] : by_name) {
    // An SVG's namespace is a name, not an address anything is loaded from.
    body = ReplaceAll(body, "xmlns=\"http://www.w3.org/2000/svg\"", "");
    EXPECT_EQ(body.find("http://"), std::string::npos) << name;
    EXPECT_EQ(body.find("https://"), std::string::npos) << name;
    EXPECT_EQ(body.find("//cdn"), std::string::npos) << name;
  }
}

class DashboardRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kf-dashboard-unit-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    auto journal = control::Journal::Open(dir_.string(), control::Journal::Mode::kCreate);
    ASSERT_TRUE(journal) << journal.error().ToString();
    journal_ = std::move(*journal);
    for (int i = 0; i < 3; ++i) {
      Event e;
      e.phase = Phase::kPreflight;
      e.kind = i == 0 ? EventKind::kStart : EventKind::kInfo;
      e.message = "event " + std::to_string(i);
      ASSERT_TRUE(journal_->AppendEvent(e));
    }
    ASSERT_TRUE(journal_->Set(control::kKeyProgress, R"({"keys_written": 7})"));
  }
  void TearDown() override {
    server_.Stop();
    journal_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Listen(const std::string& token, NodeRefresher* nodes) {
    AddDashboardRoutes(
        &server_, {.journal = journal_.get(), .live_stats = {}, .nodes = nodes, .title = "unit"});
    ListenOptions options;
    options.address = "127.0.0.1:0";
    options.token = token;
    auto ok = server_.Listen(options);
    ASSERT_TRUE(ok) << ok.error().ToString();
  }

  std::filesystem::path dir_;
  std::unique_ptr<control::Journal> journal_;
  HttpServer server_;
};

TEST_F(DashboardRoutes, ServeThePageAndTheJsonWithTheirHeaders) {
  Listen("", nullptr);
  httplib::Client http("127.0.0.1", server_.port());
  auto page = http.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page->get_header_value("Content-Security-Policy"), "default-src 'self'");
  EXPECT_EQ(page->get_header_value("Cache-Control"), "no-store");
  EXPECT_THAT(page->body, HasSubstr("src=\"app.js\""));  // no token: no query
  auto js = http.Get("/app.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->get_header_value("Content-Type"), "text/javascript; charset=utf-8");

  auto all = http.Get("/api/events");
  ASSERT_TRUE(all);
  auto events = nlohmann::json::parse(all->body);
  ASSERT_EQ(events["events"].size(), 3u);
  int64_t first = events["events"][0]["id"];
  auto later = nlohmann::json::parse(http.Get("/api/events?after=" + std::to_string(first))->body);
  ASSERT_EQ(later["events"].size(), 2u);
  EXPECT_EQ(later["events"][0]["message"], "event 1");
  auto bad = http.Get("/api/events?after=x");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, HasSubstr("event id"));

  auto live = nlohmann::json::parse(http.Get("/api/live")->body);
  EXPECT_EQ(live["source"], "journal");
  EXPECT_EQ(live["stats"]["keys_written"], 7);
  auto timeline = nlohmann::json::parse(http.Get("/api/timeline")->body);
  ASSERT_EQ(timeline["phases"].size(), 1u);
  EXPECT_EQ(timeline["phases"][0]["outcome"], "running");
  auto nodes = nlohmann::json::parse(http.Get("/api/nodes")->body);
  EXPECT_THAT(nodes.value("note", ""), HasSubstr("does not read the nodes"));
}

TEST_F(DashboardRoutes, WithATokenEveryPathNeedsItAndThePagePassesItOn) {
  Listen("s3cret/+=", nullptr);
  httplib::Client http("127.0.0.1", server_.port());
  for (const char* path : {"/", "/index.html", "/app.js", "/style.css", "/favicon.svg", "/api/live",
                           "/api/nodes", "/api/events", "/api/timeline"}) {
    auto denied = http.Get(path);
    ASSERT_TRUE(denied) << path;
    EXPECT_EQ(denied->status, 401) << path;
    auto wrong = http.Get(std::string(path) + "?token=s3cret");
    EXPECT_EQ(wrong->status, 401) << path;
  }
  auto page = http.Get("/?token=s3cret%2F%2B%3D");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  // The assets it loads carry the token (percent-encoded), and they are let in with it.
  EXPECT_THAT(page->body, HasSubstr("src=\"app.js?token=s3cret%2F%2B%3D\""));
  EXPECT_EQ(http.Get("/app.js?token=s3cret%2F%2B%3D")->status, 200);
  EXPECT_EQ(http.Get("/api/events", {{"Authorization", "Bearer s3cret/+="}})->status, 200);
}

TEST_F(DashboardRoutes, ANodeThatCannotBeReadShowsItsError) {
  // Port 1 on 127.0.0.1: nothing listens there; the connection is refused at once.
  NodeRefresher nodes([] {
    NodeSeeds seeds;
    net::Uri closed;
    closed.host = "127.0.0.1";
    closed.port = 1;
    seeds.source = closed;
    seeds.target = MakeError(std::make_error_code(std::errc::invalid_argument),
                             "the local target is not provisioned yet");
    return seeds;
  });
  nodes.RefreshNow();
  Listen("", &nodes);
  httplib::Client http("127.0.0.1", server_.port());
  auto j = nlohmann::json::parse(http.Get("/api/nodes")->body);
  ASSERT_EQ(j["source"]["nodes"].size(), 1u) << j.dump(2);
  EXPECT_EQ(j["source"]["nodes"][0]["endpoint"], "127.0.0.1:1");
  EXPECT_THAT(j["source"]["nodes"][0].value("error", ""), HasSubstr("cannot connect"));
  EXPECT_THAT(j["target"].value("error", ""), HasSubstr("not provisioned yet"));
  EXPECT_FALSE(j["refreshed_ms"].is_null());
}

}  // namespace
}  // namespace kf::observe
