// The dashboard (docs/observe.md, "Dashboard"): one page served at / by the observe server,
// its assets embedded in the binary (dashboard_assets.h), and the JSON it polls about once
// a second:
//
//   /              index.html; /app.js, /style.css: the page's script and style
//   /status        (migration_routes.h) phase, phase status, the journal's progress
//   /api/live      the sync's numbers: the running apply's own SyncStats when it serves the
//                  page ("source": "live"), else the journal's last saved progress
//                  ("source": "journal")
//   /api/nodes     source and target, every node: engine, version, endpoint, role, keys,
//                  used_memory (or the error that kept it from being read), as the
//                  NodeRefresher last read them; a file source shows the file instead
//   /api/events    ?after=<id>: journal events with a larger id, oldest first, at most 500
//   /api/timeline  phases with start, end and duration; the write pause; the last verify
//                  result with its first differences
//
// Every asset and answer is read-only: nothing here writes the journal or a server. Every
// response carries Cache-Control: no-store and Content-Security-Policy: default-src 'self'
// (http_server.cc), so the browser itself refuses any request to another origin.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"
#include "control/journal.h"
#include "control/spec.h"
#include "net/uri.h"
#include "observe/http_server.h"

namespace kf::observe {

// The content type of an asset by its file name's extension (html, js, css, png, svg, json;
// anything else application/octet-stream).
std::string AssetContentType(std::string_view name);

// The page's address for a person: "http://HOST:PORT/" with the bound port (IPv6 hosts in
// brackets). The token is never part of it (append ?token=... by hand).
std::string ServedUrl(const ListenOptions& options, int bound_port);

// Every byte but A-Z a-z 0-9 - _ . ~ as %XX (a query parameter's value; also safe inside
// an HTML attribute).
std::string PercentEncode(std::string_view text);
// `text` with every `from` replaced by `to`, left to right.
std::string ReplaceAll(std::string text, std::string_view from, std::string_view to);

// The phase timeline, the write pause and the verify result folded from journal events in
// id order (a pure function; tested on fixed events).
//
// "phases": one entry per `start` event of a phase, in order: {phase, started_ms, ended_ms
// (null while running), duration_ms (null while running), outcome: "running" | "finish" |
// "fail" | "rollback" | "interrupted"}. A phase ends at its first finish/fail event after
// the start, at a rollback event, or ("interrupted") at the next phase's start without one
// (an apply that died and was resumed). A terminal phase (DONE, ROLLED_BACK, ABORTED,
// FAILED), which has no start, ends the list as {phase, started_ms = ended_ms = its finish
// time, duration_ms 0, outcome "finish"}.
// "pause": null before PAUSE_WRITES started; else {started_ms, ended_ms, pause_ms, running}:
// started at the PAUSE_WRITES start, ended by the CUTOVER finish (its data.pause_ms is the
// length apply measured) or a rollback.
// "verify": null before any verify report; else the last event whose data is a verify
// report (data.result): {event_id, time_ms, phase, message, result, mode, differing_keys,
// keys_checked, elapsed_ms, first_differences: up to 10 of data.examples}.
// "apply_started_ms": the first event's time (null without events).
nlohmann::json BuildTimeline(const std::vector<control::Event>& events);

// Where the nodes of both sides are read from, asked afresh on every refresh (the target's
// port is known only after PROVISION).
struct NodeSeeds {
  // A standalone server or any node of a cluster (then every node is listed), or the error
  // that keeps it from being known (no password variable, not provisioned yet).
  Result<net::Uri> source = MakeError(std::make_error_code(std::errc::invalid_argument), "");
  Result<net::Uri> target = MakeError(std::make_error_code(std::errc::invalid_argument), "");
  std::string source_file;  // set: the source is this RDB file (no nodes are read)
};

// The seeds of a migration: the spec's source (or its file), and its target at the port
// PROVISION journaled (a local provider) or its external URI.
NodeSeeds MigrationNodeSeeds(const control::Spec& spec, control::Journal* journal);

// Reads INFO from every node of both sides on a thread of its own, at most every
// `every_ms` (2 s), with short timeouts, so that requests only copy the last result: a
// request never waits for a server and the apply is never waited for. Each node:
// {endpoint, engine, version, role, keys, used_memory, cluster_mode} or {endpoint, error}.
// Snapshot(): {"source": {"file"?, "error"?, "nodes": [...]}, "target": {...},
// "refreshed_ms": time of the last refresh (null before the first)}.
class NodeRefresher {
 public:
  NodeRefresher(std::function<NodeSeeds()> seeds, int64_t every_ms = 2000);
  ~NodeRefresher();  // Stop()
  NodeRefresher(const NodeRefresher&) = delete;
  NodeRefresher& operator=(const NodeRefresher&) = delete;

  void Start();
  void Stop();  // wakes and joins the thread (a read in flight ends within its timeouts)
  nlohmann::json Snapshot() const;
  // One refresh on the caller's thread (what the thread runs; for tests).
  void RefreshNow();

 private:
  void Loop();

  std::function<NodeSeeds()> seeds_;
  int64_t every_ms_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  nlohmann::json last_;
  std::thread thread_;
};

// One side's nodes read now (what NodeRefresher does for each side).
nlohmann::json ReadSideNodes(const Result<net::Uri>& seed);

struct DashboardSources {
  // The journal to read events from (read-only use); nullptr: no event log, no timeline
  // (sync --status-addr).
  control::Journal* journal = nullptr;
  // The live sync numbers as JSON (SyncStats::ToJson), nullopt when no sync runs in this
  // process; null function: always the journal's progress.
  std::function<std::optional<std::string>()> live_stats;
  NodeRefresher* nodes = nullptr;  // nullptr: /api/nodes answers that nodes are not read
  std::string title;               // the migration's name, shown in the page's header
};

// Adds /, /index.html, /app.js, /style.css and /api/live, /api/nodes, /api/events,
// /api/timeline to `server` (before it listens). Everything in `sources` must outlive the
// server's serving.
void AddDashboardRoutes(HttpServer* server, DashboardSources sources);

}  // namespace kf::observe
