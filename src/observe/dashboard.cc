// The dashboard's routes, its timeline fold and the node refresher (see dashboard.h).
#include "observe/dashboard.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <system_error>

#include "control/provider.h"
#include "net/client.h"
#include "net/cluster_probe.h"
#include "net/server_info.h"
#include "observe/dashboard_assets.h"
#include "observe/journal_status.h"

namespace kf::observe {
namespace {

using control::Event;
using control::EventKind;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

nlohmann::json DataOf(const Event& e) {
  if (e.data_json.empty()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(e.data_json, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

// One node's INFO read into the fields the page shows.
nlohmann::json ReadNode(const net::Uri& uri) {
  nlohmann::json node = {{"endpoint", uri.Endpoint()}};
  net::ClientOptions options;
  options.connect_timeout = std::chrono::milliseconds(1000);
  options.io_timeout = std::chrono::milliseconds(2000);
  options.client_name = "keyferry-dashboard";
  net::Client client;
  auto connected = client.Connect(uri, options);
  if (!connected) {
    node["error"] = "cannot connect: " + connected.error().ToString();
    return node;
  }
  auto info = client.Call({"INFO"});  // default sections: server, memory, replication, keyspace
  if (!info || info->is_error()) {
    node["error"] = "INFO failed: " + (info ? info->str() : info.error().ToString());
    return node;
  }
  const std::string& text = info->str();
  auto identity = net::ParseServerIdentity(text);
  node["engine"] = identity.engine;
  node["version"] = identity.version;
  node["mode"] = identity.mode;
  node["role"] = net::InfoField(text, "role");
  node["keys"] = net::KeyspaceKeyCount(text);
  auto used = net::InfoField(text, "used_memory");
  node["used_memory"] =
      used.empty() ? nlohmann::json() : nlohmann::json(std::strtoull(used.c_str(), nullptr, 10));
  return node;
}

}  // namespace

std::string ServedUrl(const ListenOptions& options, int bound_port) {
  auto parsed = ParseListenAddress(options.address);
  std::string host = parsed ? parsed->host : options.address;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(bound_port) + "/";
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string ReplaceAll(std::string text, std::string_view from, std::string_view to) {
  size_t at = 0;
  while ((at = text.find(from, at)) != std::string::npos) {
    text.replace(at, from.size(), to);
    at += to.size();
  }
  return text;
}

std::string AssetContentType(std::string_view name) {
  auto ends = [&](std::string_view ext) { return name.ends_with(ext); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".json")) return "application/json";
  return "application/octet-stream";
}

nlohmann::json BuildTimeline(const std::vector<Event>& events) {
  nlohmann::json phases = nlohmann::json::array();
  std::optional<size_t> open;  // the index of the phase entry still running
  auto close = [&](int64_t at, const char* outcome) {
    if (!open) return;
    auto& p = phases[*open];
    p["ended_ms"] = at;
    p["duration_ms"] = std::max<int64_t>(0, at - p["started_ms"].get<int64_t>());
    p["outcome"] = outcome;
    open.reset();
  };
  nlohmann::json pause;  // null until PAUSE_WRITES starts
  nlohmann::json verify;
  for (const auto& e : events) {
    std::string phase(control::PhaseName(e.phase));
    nlohmann::json data = DataOf(e);
    if (e.kind == EventKind::kStart) {
      close(e.time_ms, "interrupted");
      phases.push_back({{"phase", phase},
                        {"started_ms", e.time_ms},
                        {"ended_ms", nullptr},
                        {"duration_ms", nullptr},
                        {"outcome", "running"}});
      open = phases.size() - 1;
      if (e.phase == control::Phase::kPauseWrites) {
        pause = {{"started_ms", e.time_ms},
                 {"ended_ms", nullptr},
                 {"pause_ms", nullptr},
                 {"running", true}};
      }
    } else if (e.kind == EventKind::kFinish || e.kind == EventKind::kFail) {
      if (open && phases[*open]["phase"] == phase) {
        close(e.time_ms, e.kind == EventKind::kFinish ? "finish" : "fail");
      }
      if (control::IsTerminal(e.phase) && e.kind == EventKind::kFinish) {
        phases.push_back({{"phase", phase},
                          {"started_ms", e.time_ms},
                          {"ended_ms", e.time_ms},
                          {"duration_ms", 0},
                          {"outcome", "finish"}});
      }
      if (e.phase == control::Phase::kCutover && e.kind == EventKind::kFinish && !pause.is_null() &&
          pause["running"] == true) {
        pause["ended_ms"] = e.time_ms;
        pause["running"] = false;
        if (data.contains("pause_ms") && data["pause_ms"].is_number_integer()) {
          pause["pause_ms"] = data["pause_ms"];
        } else {
          pause["pause_ms"] = e.time_ms - pause["started_ms"].get<int64_t>();
        }
      }
    } else if (e.kind == EventKind::kRollback) {
      close(e.time_ms, "rollback");
      if (!pause.is_null() && pause["running"] == true) {
        pause["ended_ms"] = e.time_ms;
        pause["running"] = false;
        pause["pause_ms"] = e.time_ms - pause["started_ms"].get<int64_t>();
      }
    }
    if (data.is_object() && data.contains("result") && data["result"].is_string()) {
      nlohmann::json first = nlohmann::json::array();
      if (data.contains("examples") && data["examples"].is_array()) {
        for (const auto& example : data["examples"]) {
          if (first.size() == 10) break;
          first.push_back(example);
        }
      }
      verify = {{"event_id", e.id},
                {"time_ms", e.time_ms},
                {"phase", phase},
                {"message", e.message},
                {"result", data["result"]},
                {"mode", data.value("mode", nlohmann::json())},
                {"differing_keys", data.value("differing_keys", nlohmann::json())},
                {"keys_checked", data.value("source_keys_checked", nlohmann::json())},
                {"elapsed_ms", data.value("elapsed_ms", nlohmann::json())},
                {"first_differences", first}};
    }
  }
  return {
      {"phases", phases},
      {"pause", pause},
      {"verify", verify},
      {"apply_started_ms", events.empty() ? nlohmann::json() : nlohmann::json(events[0].time_ms)}};
}

NodeSeeds MigrationNodeSeeds(const control::Spec& spec, control::Journal* journal) {
  NodeSeeds seeds;
  if (spec.source.is_file()) {
    seeds.source_file = spec.source.rdb_file;
  } else {
    seeds.source = spec.SourceUri();
  }
  if (spec.target.provider == control::ProviderKind::kExternal) {
    seeds.target = spec.TargetUri(0);
    return seeds;
  }
  std::optional<std::string> port;
  if (journal != nullptr) port = journal->Get(control::kKeyTargetPort).value_or(std::nullopt);
  if (!port) {
    seeds.target = MakeError(std::make_error_code(std::errc::no_such_device_or_address),
                             "the local target is not provisioned yet (PROVISION journals its "
                             "port)");
  } else {
    seeds.target = spec.TargetUri(std::atoi(port->c_str()));
  }
  return seeds;
}

nlohmann::json ReadSideNodes(const Result<net::Uri>& seed) {
  nlohmann::json side = {{"nodes", nlohmann::json::array()}};
  if (!seed) {
    side["error"] = seed.error().ToString();
    return side;
  }
  net::ClusterReadOptions options;
  options.client.connect_timeout = std::chrono::milliseconds(1000);
  options.client.io_timeout = std::chrono::milliseconds(2000);
  options.read_migrations = false;
  auto topology = net::ReadClusterTopology(*seed, options);
  if (!topology || !*topology) {
    // A standalone server, or one whose topology cannot be read: its own INFO (which says
    // what is wrong when it cannot be reached).
    nlohmann::json node = ReadNode(*seed);
    if (!topology && !node.contains("error")) {
      node["error"] = "CLUSTER INFO failed: " + topology.error().ToString();
    }
    side["nodes"].push_back(std::move(node));
    side["cluster"] = false;
    return side;
  }
  side["cluster"] = true;
  side["cluster_state"] = (*topology)->state;
  for (const auto& shard : (*topology)->shards) {
    std::string slots = net::SlotRangesToString(shard.slots);
    auto add = [&](const net::ClusterNode& n) {
      nlohmann::json node = ReadNode(net::NodeUri(*seed, n));
      node["slots"] = n.primary ? slots : "";
      node["health"] = net::NodeHealthName(n.health);
      side["nodes"].push_back(std::move(node));
    };
    add(shard.primary);
    for (const auto& replica : shard.replicas) add(replica);
  }
  return side;
}

NodeRefresher::NodeRefresher(std::function<NodeSeeds()> seeds, int64_t every_ms)
    : seeds_(std::move(seeds)), every_ms_(every_ms) {
  last_ = {{"source", nullptr}, {"target", nullptr}, {"refreshed_ms", nullptr}};
}

NodeRefresher::~NodeRefresher() { Stop(); }

void NodeRefresher::Start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void NodeRefresher::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

nlohmann::json NodeRefresher::Snapshot() const {
  std::lock_guard lock(mu_);
  return last_;
}

void NodeRefresher::RefreshNow() {
  NodeSeeds seeds = seeds_();
  nlohmann::json source;
  if (!seeds.source_file.empty()) {
    source = {{"file", seeds.source_file}, {"nodes", nlohmann::json::array()}};
    std::error_code ec;
    auto size = std::filesystem::file_size(seeds.source_file, ec);
    if (ec) {
      source["error"] = "cannot read " + seeds.source_file + ": " + ec.message();
    } else {
      source["file_bytes"] = size;
    }
  } else {
    source = ReadSideNodes(seeds.source);
  }
  nlohmann::json target = ReadSideNodes(seeds.target);
  std::lock_guard lock(mu_);
  last_ = {{"source", std::move(source)}, {"target", std::move(target)}, {"refreshed_ms", NowMs()}};
}

void NodeRefresher::Loop() {
  for (;;) {
    RefreshNow();
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, std::chrono::milliseconds(every_ms_), [this] { return stopping_; })) {
      return;
    }
  }
}

void AddDashboardRoutes(HttpServer* server, DashboardSources sources) {
  for (const auto& asset : EmbeddedAssets()) {
    if (asset.name == "index.html") {
      // The page was let in with its token (the server checks it before any handler): the
      // script and style it loads must carry it too.
      auto page = [asset](const HttpRequest& req) {
        std::string query;
        if (auto token = req.Query("token"); token && !token->empty()) {
          query = "?token=" + PercentEncode(*token);
        }
        return HttpResponse{200, AssetContentType(asset.name),
                            ReplaceAll(std::string(asset.body), "{{asset_query}}", query)};
      };
      server->Handle("/", page);
      server->Handle("/index.html", page);
      continue;
    }
    server->Handle("/" + std::string(asset.name), [asset](const HttpRequest&) {
      return HttpResponse{200, AssetContentType(asset.name), std::string(asset.body)};
    });
  }
  control::Journal* journal = sources.journal;
  server->Handle("/api/live", [sources](const HttpRequest&) {
    nlohmann::json j = {{"title", sources.title}, {"time_ms", NowMs()}};
    std::optional<std::string> live;
    if (sources.live_stats) live = sources.live_stats();
    if (live) {
      j["source"] = "live";
      j["stats"] = nlohmann::json::parse(*live, nullptr, false);
    } else if (sources.journal != nullptr) {
      j["source"] = "journal";
      auto progress = sources.journal->Get(control::kKeyProgress);
      j["stats"] = progress && *progress ? nlohmann::json::parse(**progress, nullptr, false)
                                         : nlohmann::json();
    } else {
      j["source"] = "none";
      j["stats"] = nullptr;
    }
    if (j["stats"].is_discarded()) j["stats"] = nullptr;
    return HttpResponse{200, "application/json", j.dump()};
  });
  server->Handle("/api/nodes", [nodes = sources.nodes](const HttpRequest&) {
    if (nodes == nullptr) {
      return HttpResponse{200, "application/json",
                          nlohmann::json{{"source", nullptr},
                                         {"target", nullptr},
                                         {"refreshed_ms", nullptr},
                                         {"note", "this server does not read the nodes"}}
                              .dump()};
    }
    return HttpResponse{200, "application/json", nodes->Snapshot().dump()};
  });
  server->Handle("/api/events", [journal](const HttpRequest& req) {
    if (journal == nullptr) {
      return HttpResponse{
          200, "application/json",
          nlohmann::json{{"events", nlohmann::json::array()}, {"journal", false}}.dump()};
    }
    int64_t after = 0;
    if (auto text = req.Query("after")) {
      char* end = nullptr;
      after = std::strtoll(text->c_str(), &end, 10);
      if (text->empty() || end == nullptr || *end != '\0' || after < 0) {
        return HttpResponse{400, "text/plain; charset=utf-8",
                            "400 bad request: ?after= takes an event id (a whole number >= 0), "
                            "not \"" +
                                *text + "\"\n"};
      }
    }
    auto events = journal->ListEvents(after, 500);
    if (!events) {
      return HttpResponse{500, "text/plain; charset=utf-8",
                          "cannot read the journal's events in " + journal->state_dir() + ": " +
                              events.error().ToString() + "\n"};
    }
    nlohmann::json list = nlohmann::json::array();
    for (const auto& e : *events) list.push_back(EventJson(e));
    return HttpResponse{200, "application/json",
                        nlohmann::json{{"events", list}, {"journal", true}}.dump()};
  });
  server->Handle("/api/timeline", [journal](const HttpRequest&) {
    if (journal == nullptr) {
      return HttpResponse{200, "application/json", BuildTimeline({}).dump()};
    }
    std::vector<Event> all;
    int64_t after = 0;
    for (;;) {  // in pages; a journal holds hundreds of events, not millions
      auto page = journal->ListEvents(after, 10000);
      if (!page) {
        return HttpResponse{500, "text/plain; charset=utf-8",
                            "cannot read the journal's events in " + journal->state_dir() + ": " +
                                page.error().ToString() + "\n"};
      }
      if (page->empty()) break;
      after = page->back().id;
      std::move(page->begin(), page->end(), std::back_inserter(all));
    }
    nlohmann::json j = BuildTimeline(all);
    j["now_ms"] = NowMs();
    return HttpResponse{200, "application/json", j.dump()};
  });
}

}  // namespace kf::observe
