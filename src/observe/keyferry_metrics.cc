// keyferry's metric families and their sources: see keyferry_metrics.h.
#include "observe/keyferry_metrics.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

#include "common/clock.h"

namespace kf::observe {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

Labels ShardLabel(const ShardMetrics& s) {
  if (s.shard.empty()) return {};
  return {{"shard", s.shard}};
}

// One family with a sample per shard, valued by `value`.
template <typename F>
MetricFamily PerShard(std::string name, std::string help, MetricType type,
                      const std::vector<ShardMetrics>& shards, F value) {
  MetricFamily f{std::move(name), std::move(help), type, {}};
  for (const auto& s : shards) f.samples.push_back({ShardLabel(s), static_cast<double>(value(s))});
  return f;
}

MetricFamily Single(std::string name, std::string help, MetricType type,
                    std::optional<double> value) {
  MetricFamily f{std::move(name), std::move(help), type, {}};
  if (value) f.samples.push_back({{}, *value});
  return f;
}

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

std::vector<std::string> SyncPhaseNames() {
  std::vector<std::string> out;
  for (auto p : {sync::SyncPhase::kConnecting, sync::SyncPhase::kSnapshot, sync::SyncPhase::kStream,
                 sync::SyncPhase::kDone, sync::SyncPhase::kFailed}) {
    out.emplace_back(sync::SyncPhaseName(p));
  }
  return out;
}

std::vector<MetricFamily> KeyferryFamilies(const MetricsSnapshot& m) {
  std::vector<MetricFamily> out;
  MetricFamily phase{"keyferry_phase",
                     "1 for the phase keyferry is in, 0 for the others (sync: connecting, "
                     "snapshot, stream, done, failed; apply: the migration's phases).",
                     MetricType::kGauge,
                     {}};
  for (const auto& name : m.phases) {
    phase.samples.push_back({{{"phase", name}}, name == m.phase ? 1.0 : 0.0});
  }
  out.push_back(std::move(phase));
  out.push_back(Single("keyferry_phase_started_timestamp_seconds",
                       "Unix time at which the current phase started.", MetricType::kGauge,
                       m.phase_started_seconds));
  out.push_back(PerShard("keyferry_keys_copied_total",
                         "Keys written into the target by snapshots (every snapshot's keys).",
                         MetricType::kCounter, m.shards, [](auto& s) { return s.keys_copied; }));
  out.push_back(PerShard("keyferry_bytes_copied_total",
                         "Snapshot (RDB) bytes received from the source.", MetricType::kCounter,
                         m.shards, [](auto& s) { return s.bytes_copied; }));
  out.push_back(PerShard("keyferry_snapshot_progress_ratio",
                         "Share of the current snapshot received, 0 to 1 (1 once streaming; NaN "
                         "while a diskless snapshot's size is unknown).",
                         MetricType::kGauge, m.shards,
                         [](auto& s) { return s.snapshot_progress; }));
  out.push_back(PerShard("keyferry_commands_applied_total",
                         "Replication stream commands applied to the target.", MetricType::kCounter,
                         m.shards, [](auto& s) { return s.commands_applied; }));
  out.push_back(PerShard("keyferry_replication_lag_bytes",
                         "Source replication offset minus the offset the target has applied.",
                         MetricType::kGauge, m.shards, [](auto& s) { return s.lag_bytes; }));
  out.push_back(PerShard("keyferry_replication_lag_seconds",
                         "How far behind the source the applied stream is, in seconds.",
                         MetricType::kGauge, m.shards, [](auto& s) { return s.lag_seconds; }));
  out.push_back(PerShard("keyferry_reconnects_total",
                         "Replication links to the source that dropped and were reopened.",
                         MetricType::kCounter, m.shards, [](auto& s) { return s.reconnects; }));
  out.push_back(PerShard("keyferry_full_syncs_total",
                         "Full synchronisations (a whole snapshot) from the source.",
                         MetricType::kCounter, m.shards, [](auto& s) { return s.full_syncs; }));
  out.push_back(PerShard("keyferry_partial_syncs_total",
                         "Partial synchronisations (PSYNC continued from an offset).",
                         MetricType::kCounter, m.shards, [](auto& s) { return s.partial_syncs; }));
  out.push_back(Single("keyferry_write_pause_seconds",
                       "Length of the last write pause on the source (apply).", MetricType::kGauge,
                       m.write_pause_seconds));
  out.push_back(
      Single("keyferry_verify_keys_checked_total",
             "Keys compared between source and target by VERIFY (apply).", MetricType::kCounter,
             m.verify_keys_checked ? std::optional<double>(*m.verify_keys_checked) : std::nullopt));
  out.push_back(
      Single("keyferry_verify_differences",
             "Keys that differed at the end of the last VERIFY (apply).", MetricType::kGauge,
             m.verify_differences ? std::optional<double>(*m.verify_differences) : std::nullopt));
  std::map<std::string, uint64_t> errors = m.errors;
  uint64_t skipped = 0;
  for (const auto& s : m.shards) skipped += s.keys_skipped;
  errors["value_skipped"] += skipped;
  MetricFamily errors_family{"keyferry_errors_total",
                             "Errors by kind: value_skipped (values the target cannot hold, "
                             "skipped); apply: phase_failed (failed steps), verify_mismatch "
                             "(verify reports with differences), cutover_hook (hook failures), "
                             "rollback (rollbacks).",
                             MetricType::kCounter,
                             {}};
  for (const auto& [kind, n] : errors) {
    errors_family.samples.push_back({{{"kind", kind}}, static_cast<double>(n)});
  }
  out.push_back(std::move(errors_family));
  out.push_back(Single("process_resident_memory_bytes", "Resident memory size in bytes.",
                       MetricType::kGauge,
                       m.process.resident_bytes
                           ? std::optional<double>(static_cast<double>(*m.process.resident_bytes))
                           : std::nullopt));
  out.push_back(Single("process_cpu_seconds_total", "User and system CPU time spent in seconds.",
                       MetricType::kCounter, m.process.cpu_seconds));
  out.push_back(Single("process_start_time_seconds",
                       "Start time of the process since the Unix epoch in seconds.",
                       MetricType::kGauge, m.process.start_time_seconds));
  return out;
}

std::vector<std::string> KeyferryMetricNames() {
  std::vector<std::string> names;
  MetricsSnapshot empty;
  for (const auto& f : KeyferryFamilies(empty)) {
    names.push_back(
        f.type == MetricType::kCounter && !f.name.ends_with("_total") ? f.name + "_total" : f.name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

uint64_t MonotonicCounter::Observe(uint64_t raw) {
  // A drop is a restart of the underlying count (a new snapshot): what it counts from now on
  // is new, so the counter continues from where it was.
  if (raw >= last_raw) {
    total += raw - last_raw;
  } else {
    total += raw;
  }
  last_raw = raw;
  return total;
}

void ShardCounters::Apply(ShardMetrics* m) {
  m->keys_copied = keys.Observe(m->keys_copied);
  m->bytes_copied = bytes.Observe(m->bytes_copied);
  m->commands_applied = commands.Observe(m->commands_applied);
  m->keys_skipped = skipped.Observe(m->keys_skipped);
  m->reconnects = reconnects.Observe(m->reconnects);
  m->full_syncs = full_syncs.Observe(m->full_syncs);
  m->partial_syncs = partial_syncs.Observe(m->partial_syncs);
}

void ShardCounters::Rebase() {
  for (MonotonicCounter* c :
       {&keys, &bytes, &commands, &skipped, &reconnects, &full_syncs, &partial_syncs}) {
    c->Rebase();
  }
}

ShardMetrics ReadShardStats(const sync::SyncStats& s) {
  ShardMetrics m;
  auto phase = static_cast<sync::SyncPhase>(s.phase.load());
  m.keys_copied = s.keys_written.load();
  m.bytes_copied = s.snapshot_bytes.load();
  m.commands_applied = s.commands_applied.load();
  m.keys_skipped = s.keys_skipped.load();
  uint64_t done = s.snapshot_bytes.load(), total = s.snapshot_total_bytes.load();
  if (phase == sync::SyncPhase::kStream || phase == sync::SyncPhase::kDone) {
    m.snapshot_progress = 1;
  } else if (phase == sync::SyncPhase::kSnapshot) {
    m.snapshot_progress = total > 0 ? std::min(1.0, static_cast<double>(done) / total)
                                    : std::numeric_limits<double>::quiet_NaN();
  } else {
    m.snapshot_progress = 0;
  }
  int64_t src = s.source_offset.load(), applied = s.applied_offset.load();
  m.lag_bytes = src >= 0 && applied >= 0 && src > applied ? src - applied : 0;
  m.lag_seconds = static_cast<double>(s.lag_ms.load()) / 1000.0;
  m.reconnects = s.link_drops.load();
  m.full_syncs = s.full_syncs.load();
  m.partial_syncs = s.partial_syncs.load();
  return m;
}

MetricsSnapshot SyncMetricsSource::Snapshot() {
  MetricsSnapshot m;
  m.shards = ReadShards();
  m.phases = SyncPhaseNames();
  int phase = overall_->phase.load();
  m.phase = sync::SyncPhaseName(static_cast<sync::SyncPhase>(phase));
  {
    std::lock_guard lock(mu_);
    if (seen_phase_ != phase) {
      int64_t started = overall_->started_ms.load();
      bool first = seen_phase_ < 0 && phase == static_cast<int>(sync::SyncPhase::kConnecting);
      seen_phase_since_ =
          static_cast<double>(first && started > 0 ? started : UnixMillis()) / 1000.0;
      seen_phase_ = phase;
    }
    m.phase_started_seconds = seen_phase_since_;
  }
  m.process = ReadProcessMetrics();
  return m;
}

std::vector<ShardMetrics> SyncMetricsSource::ReadShards() {
  std::lock_guard lock(mu_);
  std::vector<ShardMetrics> out;
  for (size_t i = 0; i < shards_.size(); ++i) {
    ShardMetrics m = ReadShardStats(*shards_[i].stats);
    m.shard = shards_[i].name;
    counters_[i].Apply(&m);
    out.push_back(std::move(m));
  }
  return out;
}

std::optional<uint64_t> ParseStatmResidentBytes(std::string_view statm, long page_size) {
  // "size resident shared text lib data dt", in pages.
  size_t space = statm.find(' ');
  if (space == std::string_view::npos || page_size <= 0) return std::nullopt;
  std::string_view rest = statm.substr(space + 1);
  uint64_t pages = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), pages);
  if (ec != std::errc() || p == rest.data()) return std::nullopt;
  return pages * static_cast<uint64_t>(page_size);
}

std::optional<ProcStatTimes> ParseProcStat(std::string_view stat, long ticks_per_second) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // after the last ')'. Field 14 is utime, 15 stime, 22 starttime (1-based, man 5 proc).
  size_t close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  std::string_view rest = stat.substr(close + 1);
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < rest.size() && fields.size() < 20) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    size_t start = i;
    while (i < rest.size() && rest[i] != ' ' && rest[i] != '\n') ++i;
    if (i > start) fields.push_back(rest.substr(start, i - start));
    if (i < rest.size() && rest[i] == '\n') break;
  }
  // fields[0] is field 3 (state): field n is fields[n - 3].
  if (fields.size() < 20) return std::nullopt;
  auto number = [](std::string_view text) -> std::optional<uint64_t> {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
    return v;
  };
  auto utime = number(fields[14 - 3]), stime = number(fields[15 - 3]);
  auto start = number(fields[22 - 3]);
  if (!utime || !stime || !start) return std::nullopt;
  double ticks = static_cast<double>(ticks_per_second);
  return ProcStatTimes{static_cast<double>(*utime + *stime) / ticks,
                       static_cast<double>(*start) / ticks};
}

ProcessMetrics ReadProcessMetrics() {
  ProcessMetrics m;
  m.resident_bytes =
      ParseStatmResidentBytes(ReadSmallFile("/proc/self/statm"), ::sysconf(_SC_PAGESIZE));
  auto times = ParseProcStat(ReadSmallFile("/proc/self/stat"), ::sysconf(_SC_CLK_TCK));
  if (times) {
    m.cpu_seconds = times->cpu_seconds;
    // Boot time: "btime <unix seconds>" in /proc/stat.
    std::string stat = ReadSmallFile("/proc/stat");
    size_t at = stat.find("\nbtime ");
    if (at != std::string::npos) {
      m.start_time_seconds =
          std::strtod(stat.c_str() + at + 7, nullptr) + times->start_after_boot_seconds;
    }
  }
  return m;
}

}  // namespace kf::observe
