// keyferry sync: copy a live Redis into Valkey as a replica and keep it in sync.
//
// Runs SyncEngine on the main thread (or, for a cluster source, ClusterSourceSync: one
// engine per source shard, docs/cluster.md "Cluster source"); a reporter thread prints progress
// (cli/progress_output.h: a bar and then a live line on a terminal, a plain line every 5 s
// otherwise, nothing with --quiet; or one JSON object a second with --json-progress), and
// --status-addr serves the same numbers at /status. SIGINT/SIGTERM ask the engine to stop:
// it applies what it received, checkpoints and exits 0.
//
// Before anything is written it refuses (exit 2): a source and a target that are one server
// (same run_id in INFO server, however the URIs spell them), a URI naming a database (/db:
// the replica link carries every database, so --db-map is the way to choose where they
// land), a --checkpoint path whose directory is missing or not writable, a node of a
// cluster as the target, and a cluster source with unserved slots or a slot migration.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <thread>
#include <tuple>

#include "cli/cli_app.h"
#include "cli/listen_flags.h"
#include "cli/progress_output.h"
#include "cli/tls_flags.h"
#include "common/clock.h"
#include "net/cluster_probe.h"
#include "net/errc.h"
#include "net/identity_probe.h"
#include "net/uri.h"
#include "observe/dashboard.h"
#include "observe/http_server.h"
#include "observe/keyferry_metrics.h"
#include "observe/prometheus_text.h"
#include "observe/terminal_progress.h"
#include "sync/checkpoint_path.h"
#include "sync/cluster_source_sync.h"
#include "sync/scan_sync.h"
#include "sync/sync_engine.h"

namespace kf::cli {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

struct SyncArgs {
  std::string source;
  std::string target;
  bool once = false;
  std::string checkpoint;
  ListenFlags listen;  // --status-addr, --listen-token-env
  std::vector<std::string> db_map;
  std::vector<std::string> match;
  std::vector<std::string> exclude;
  std::string on_unsupported = "fail";
  uint64_t big_key_threshold = uint64_t{64} << 20;
  int writers = 2;
  bool flush_target = false;
  bool json_progress = false;
  bool quiet = false;
  int link_timeout_s = 60;
  std::string source_mode = "replica";
  TlsFlags source_tls;
  TlsFlags target_tls;
};

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", bytes, units[u]);
  return buf;
}

// Whether a URI's text names a database (redis://host:port/3), even /0.
bool NamesDatabase(std::string_view text) {
  size_t scheme = text.find("://");
  if (scheme == std::string_view::npos) return false;
  std::string_view rest = text.substr(scheme + 3);
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) rest = rest.substr(at + 1);
  size_t slash = rest.find('/');
  return slash != std::string_view::npos && slash + 1 < rest.size();
}

int RunSync(const SyncArgs& args) {
  sync::SyncOptions options;
  auto source = net::Uri::Parse(args.source);
  if (!source) {
    std::fprintf(stderr, "keyferry sync: --source: %s\n", source.error().ToString().c_str());
    return kExitError;
  }
  auto target = net::Uri::Parse(args.target);
  if (!target) {
    std::fprintf(stderr, "keyferry sync: --target: %s\n", target.error().ToString().c_str());
    return kExitError;
  }
  for (const auto& [end, flags, uri] : {std::tuple{"source", &args.source_tls, &*source},
                                        std::tuple{"target", &args.target_tls, &*target}}) {
    if (auto applied = ApplyTlsFlags(*flags, end, uri); !applied) {
      std::fprintf(stderr, "keyferry sync: %s\n", applied.error().ToString().c_str());
      return kExitError;
    }
  }
  // Said at the start and again in the summary: an insecure link must not go unnoticed.
  std::vector<std::string> warnings;
  for (const auto& [end, uri] : {std::pair{"source", &*source}, {"target", &*target}}) {
    if (std::string w = InsecureWarning(*uri, end); !w.empty()) {
      // --quiet: said once, in the result.
      if (!args.quiet) std::fprintf(stderr, "keyferry sync: %s\n", w.c_str());
      warnings.push_back(std::move(w));
    }
  }
  for (const auto& [flag, text] :
       {std::pair{"--source", &args.source}, {"--target", &args.target}}) {
    if (NamesDatabase(*text)) {
      std::fprintf(stderr,
                   "keyferry sync: %s %s names a database, which sync does not use: it copies "
                   "every database of the source, each into the database of the same number. "
                   "Remove the /db and use --db-map SRC:DST to choose where a database lands "
                   "(with --match to copy only some keys)\n",
                   flag, net::Uri::Parse(*text)->ToString().c_str());
      return kExitError;
    }
  }
  if (args.source_mode == "scan" && !args.checkpoint.empty()) {
    std::fprintf(stderr,
                 "keyferry sync: --checkpoint does not apply to --source-mode scan: a scan sync "
                 "has no replication offset to resume from and copies everything again from "
                 "an empty target (docs/scan.md). Remove --checkpoint\n");
    return kExitError;
  }
  if (!args.checkpoint.empty()) {
    if (auto usable = sync::CheckCheckpointPath(args.checkpoint); !usable) {
      std::fprintf(stderr, "keyferry sync: %s\n", usable.error().ToString().c_str());
      return kExitError;
    }
  }
  // One server under two spellings (localhost and 127.0.0.1): copying it onto itself, with
  // --flush-target, would delete all of its data. When either end cannot be asked, the
  // engine below reports that end with its own message.
  bool cluster_source = false;
  {
    net::ClientOptions co;
    co.connect_timeout = std::chrono::milliseconds(5000);
    co.client_name = "keyferry-sync";
    auto source_id = net::ReadServerIdentity(*source, co);
    auto target_id = source_id ? net::ReadServerIdentity(*target, co)
                               : Result<net::ServerIdentity>(net::ServerIdentity{});
    if (source_id && target_id && net::SameServer(*source_id, *target_id)) {
      std::fprintf(stderr,
                   "keyferry sync refused: %s: copying a server onto itself would destroy its "
                   "data (--flush-target would delete every key). Nothing was written; point "
                   "--target at another server\n",
                   net::SameServerMessage(*source, *target, *target_id).c_str());
      return kExitError;
    }
    // A cluster source is copied shard by shard (below); a cluster target is written through
    // all of its primaries (target::ClusterWriter).
    cluster_source = source_id && source_id->cluster();
    for (const auto& [id, end] :
         {std::pair{&source_id, "source"}, std::pair{&target_id, "target"}}) {
      // Reachable but refusing INFO: whether it is a cluster node cannot be told.
      if (!*id && (*id).error().code == make_error_code(net::NetErrc::kServerError)) {
        std::fprintf(stderr,
                     "keyferry sync refused: %s. Without INFO server keyferry cannot tell a "
                     "standalone server from one node of a cluster; nothing was written: allow "
                     "the %s user +info\n",
                     (*id).error().ToString().c_str(), end);
        return kExitError;
      }
    }
  }
  std::optional<net::ClusterTopology> topology;
  if (cluster_source) {
    // Read once: a failover inside a shard is followed, a reshard stops the run
    // (docs/cluster.md "Cluster source").
    auto read = net::ReadClusterTopology(*source);
    if (!read) {
      std::fprintf(stderr, "keyferry sync: reading the cluster of the source %s failed: %s\n",
                   source->Endpoint().c_str(), read.error().ToString().c_str());
      return kExitError;
    }
    if (!read->has_value()) {
      std::fprintf(stderr,
                   "keyferry sync refused: the source %s says cluster mode in INFO server but "
                   "answers CLUSTER INFO as a standalone server; nothing was written. Check "
                   "the server, or point --source at a standalone server\n",
                   source->Endpoint().c_str());
      return kExitError;
    }
    if (auto ready = sync::CheckSourceTopology(**read, source->Endpoint()); !ready) {
      std::fprintf(stderr, "keyferry sync refused: %s\n", ready.error().ToString().c_str());
      return kExitError;
    }
    topology = std::move(**read);
  }
  options.source = *source;
  options.target = *target;
  options.once = args.once;
  options.checkpoint_path = args.checkpoint;
  options.db_map = args.db_map;
  options.match = args.match;
  options.exclude = args.exclude;
  options.big_key_threshold = args.big_key_threshold;
  options.writers = args.writers;
  options.flush_target = args.flush_target;
  options.link_timeout = std::chrono::seconds(args.link_timeout_s);
  if (args.on_unsupported == "fail") {
    options.on_unsupported = sync::OnUnsupported::kFail;
  } else if (args.on_unsupported == "skip") {
    options.on_unsupported = sync::OnUnsupported::kSkip;
  } else {
    options.on_unsupported = sync::OnUnsupported::kDropFieldTtl;
  }

  sync::SyncStats stats;
  stats.started_ms = UnixMillis();
  // /metrics: one series per source shard for a cluster source in replica mode (each
  // engine's own stats), else the run's numbers without a shard label (docs/observe.md).
  std::vector<std::unique_ptr<sync::SyncStats>> shard_stats;
  std::vector<observe::SyncMetricsSource::Shard> metric_shards;
  if (topology && args.source_mode != "scan") {
    for (const auto& shard : sync::PlanShardSyncs(options, *topology)) {
      shard_stats.push_back(std::make_unique<sync::SyncStats>());
      metric_shards.push_back({shard.name, shard_stats.back().get()});
    }
  } else {
    metric_shards.push_back({"", &stats});
  }
  observe::SyncMetricsSource metrics(&stats, std::move(metric_shards));
  // The dashboard's nodes (no journal here: no event log, no timeline).
  observe::NodeRefresher nodes([&source, &target] {
    observe::NodeSeeds seeds;
    seeds.source = *source;
    seeds.target = *target;
    return seeds;
  });
  std::unique_ptr<observe::HttpServer> status;
  auto listen = ResolveListen(args.listen, nullptr);
  if (!listen) {
    std::fprintf(stderr, "keyferry sync: %s\n", listen.error().ToString().c_str());
    return kExitError;
  }
  if (*listen) {
    status = std::make_unique<observe::HttpServer>();
    status->Handle("/status", "application/json", [&stats, &warnings](const auto&) {
      if (warnings.empty()) return stats.ToJson();
      nlohmann::json j = nlohmann::json::parse(stats.ToJson());
      j["warnings"] = warnings;
      return j.dump();
    });
    status->Handle("/metrics", observe::kPrometheusContentType, [&metrics](const auto&) {
      return observe::WritePrometheusText(observe::KeyferryFamilies(metrics.Snapshot()));
    });
    observe::AddDashboardRoutes(status.get(),
                                {.journal = nullptr,
                                 .live_stats = [&stats] { return std::optional(stats.ToJson()); },
                                 .nodes = &nodes,
                                 .title = "sync"});
    auto listening = status->Listen(**listen);
    if (!listening) {
      std::fprintf(stderr, "keyferry sync: --status-addr: %s\n",
                   listening.error().ToString().c_str());
      return kExitError;
    }
    nodes.Start();
    std::fprintf(stderr,
                 "keyferry sync: serving the dashboard, /status and /metrics on %s (port %d)\n",
                 observe::ServedUrl(**listen, status->port()).c_str(), status->port());
  }

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  // The bar / streaming line on stderr (docs/progress.md); --json-progress instead prints
  // one JSON object a second on stdout.
  observe::TerminalProgress progress(
      {.mode = observe::ChooseProgressMode(args.quiet), .plain_prefix = "keyferry sync: "},
      [&stats] { return SyncSample(stats); });
  if (!args.json_progress) progress.Start();
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::thread reporter([&] {
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, std::chrono::seconds(1), [&] { return finished; })) {
      if (args.json_progress) {
        std::printf("%s\n", stats.ToJson().c_str());
        std::fflush(stdout);
      }
    }
  });

  Result<void> result;
  if (args.source_mode == "scan" && topology) {
    result = sync::RunClusterScanSync(options, *topology, &stats, g_stop);
  } else if (args.source_mode == "scan") {
    sync::ScanSync scan(options, &stats);
    result = scan.Run(g_stop);
  } else if (topology) {
    sync::ClusterSourceSync cluster(options, std::move(*topology), &stats);
    std::vector<sync::SyncStats*> per_shard;
    for (const auto& s : shard_stats) per_shard.push_back(s.get());
    cluster.set_shard_stats(std::move(per_shard));
    result = cluster.Run(g_stop);
  } else {
    sync::SyncEngine engine(options, &stats);
    result = engine.Run(g_stop);
  }
  {
    std::lock_guard lock(mu);
    finished = true;
  }
  cv.notify_all();
  reporter.join();
  progress.Stop();
  if (status) status->Stop();

  if (!result) {
    std::fprintf(stderr, "keyferry sync failed: %s\n", result.error().ToString().c_str());
    for (const auto& w : warnings) std::fprintf(stderr, "keyferry sync: %s\n", w.c_str());
    return kExitError;
  }
  double elapsed = (UnixMillis() - stats.started_ms.load()) / 1000.0;
  double snapshot_s = stats.snapshot_ms.load() / 1000.0;
  nlohmann::json summary = nlohmann::json::parse(stats.ToJson());
  summary["result"] = "ok";
  if (!warnings.empty()) summary["warnings"] = warnings;
  if (args.json_progress) {
    std::printf("%s\n", summary.dump().c_str());
  } else {
    for (const auto& w : warnings) std::fprintf(stderr, "keyferry sync: %s\n", w.c_str());
    std::fprintf(stderr,
                 "keyferry sync: done in %.1f s: %llu keys, %s of snapshot in %.2f s (%.0f "
                 "keys/s), %llu stream commands applied, applied offset %lld\n",
                 elapsed, static_cast<unsigned long long>(stats.keys_written.load()),
                 HumanBytes(stats.snapshot_bytes.load()).c_str(), snapshot_s,
                 snapshot_s > 0 ? stats.keys_written.load() / snapshot_s : 0.0,
                 static_cast<unsigned long long>(stats.commands_applied.load()),
                 static_cast<long long>(stats.applied_offset.load()));
  }
  return kExitOk;
}

}  // namespace

void RegisterSyncCommand(CLI::App& app, CliState& state) {
  auto args = std::make_shared<SyncArgs>();
  auto* sub =
      app.add_subcommand("sync", "copy a live Redis into Valkey as a replica and keep it in sync");
  sub->add_option("--source", args->source, "source URI redis[s]://[user:pass@]host:port")
      ->required();
  sub->add_option("--target", args->target, "target URI redis[s]://[user:pass@]host:port")
      ->required();
  AddTlsFlags(sub, "source", &args->source_tls);
  AddTlsFlags(sub, "target", &args->target_tls);
  sub->add_flag("--once", args->once,
                "exit 0 once the snapshot and everything the source wrote until then is "
                "applied");
  sub->add_option("--checkpoint", args->checkpoint,
                  "file that keeps replication id and offset, to continue after a restart");
  AddListenFlags(sub, &args->listen, "--status-addr",
                 "serve /status JSON at HOST:PORT (docs/observe.md)");
  sub->add_option("--db-map", args->db_map, "SRC:DST database mapping (repeatable)");
  sub->add_option("--match", args->match, "copy only keys matching this glob (repeatable)");
  sub->add_option("--exclude", args->exclude, "skip keys matching this glob (repeatable)");
  sub->add_option("--on-unsupported", args->on_unsupported,
                  "what to do with values the target cannot hold")
      ->check(CLI::IsMember({"fail", "skip", "drop-field-ttl"}))
      ->capture_default_str();
  sub->add_option("--big-key-threshold", args->big_key_threshold,
                  "values above this many bytes are sent as chunked commands")
      ->capture_default_str();
  sub->add_option("--writers", args->writers, "target connections during the snapshot")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  sub->add_flag("--flush-target", args->flush_target,
                "empty a non-empty target first (otherwise keyferry refuses it)");
  sub->add_flag("--json-progress", args->json_progress, "print one JSON object per second");
  AddQuietFlag(sub, &args->quiet);
  sub->add_option("--source-mode", args->source_mode,
                  "replica: copy as a replica (PSYNC); scan: SCAN + DUMP and keyspace "
                  "notifications, for sources that refuse PSYNC (docs/scan.md)")
      ->check(CLI::IsMember({"replica", "scan"}))
      ->capture_default_str();
  sub->add_option("--link-timeout", args->link_timeout_s,
                  "seconds of silence after which the source link counts as dropped")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  sub->callback([&state, args, sub] {
    ApplyQuiet(sub, args->quiet, &state);
    state.run = [args] { return RunSync(*args); };
  });
}

}  // namespace kf::cli
