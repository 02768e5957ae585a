// The verify engine: database discovery, the scan passes, batched per-key compares,
// re-check rounds and the report (see verifier.h for the algorithm).
#include "verify/verifier.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "common/bytes.h"
#include "common/clock.h"
#include "rdb/reader.h"
#include "sync/key_filter.h"
#include "target/applied_marker.h"
#include "verify/endpoint.h"
#include "verify/value_compare.h"
#include "verify/verify_errc.h"
#include "verify/windowed_compare.h"

namespace kf::verify {
namespace {

using resp::Reply;
using resp::ReplyType;

struct DbPair {
  int source_db = -1;  // -1: no source database maps to target_db
  int target_db = 0;
  friend auto operator<=>(const DbPair&, const DbPair&) = default;
};

// What step 1 learns about a key on one end.
struct KeyProbe {
  std::string type = "none";  // TYPE reply; "none" when absent
  int64_t expire_ms = -1;     // absolute Unix ms; -1 = no expiry
  int64_t memory = -1;        // MEMORY USAGE bytes; -1 = unknown
  bool present() const { return type != "none"; }
};

enum class Verdict { kEqual, kGone, kDiffers };

struct Outcome {
  Verdict verdict = Verdict::kEqual;
  std::vector<KeyIssue> issues;
};

// "dbN:keys=..." lines of INFO keyspace.
std::vector<int> KeyspaceDbs(const Reply& info) {
  std::vector<int> dbs;
  if (!info.is_string()) return dbs;
  const std::string& text = info.str();
  size_t pos = 0;
  while ((pos = text.find("db", pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') {
      size_t colon = text.find(":keys=", pos);
      size_t eol = text.find('\n', pos);
      if (colon != std::string::npos && colon < eol) {
        int db = 0;
        bool ok = colon > pos + 2;
        for (size_t i = pos + 2; i < colon && ok; ++i) {
          ok = text[i] >= '0' && text[i] <= '9' && db < 100000;
          db = db * 10 + (text[i] - '0');
        }
        if (ok) dbs.push_back(db);
      }
    }
    pos += 2;
  }
  return dbs;
}

std::string ExpiryText(int64_t ms) { return ms < 0 ? "none" : std::to_string(ms); }

// keyferry's applied-offset markers (target/applied_marker.h: the single sync's and a
// cluster source's per-shard ones) are bookkeeping of a running sync, not data: never
// compared, on either end.
bool Compared(const sync::KeyFilter& filter, std::string_view key) {
  return filter.Accepts(key) && !target::IsAppliedMarkerKey(key);
}

class Comparison {
 public:
  Comparison(const net::Uri& source, const net::Uri& target, const VerifyOptions& options,
             const ProgressCallback& progress, const std::atomic<bool>* stop)
      : options_(options),
        progress_(progress),
        stop_(stop),
        source_("source", source, options),
        target_("target", target, options),
        filter_(options.match, options.exclude),
        rng_(options.sample_seed != 0 ? options.sample_seed : std::random_device{}()) {
    report_.mode = ModeName(options);
    report_.source = source.ToString();
    report_.target = target.ToString();
  }

  Result<VerifyReport> Run() {
    started_ = SteadyClock::now();
    KF_RETURN_IF_ERROR(ValidateOptions(options_));
    auto db_map = sync::DbMap::Parse(options_.db_map);
    if (!db_map) return MakeError(VerifyErrc::kBadOption, db_map.error().ToString());
    db_map_ = *db_map;
    KF_RETURN_IF_ERROR(source_.Connect());
    KF_RETURN_IF_ERROR(target_.Connect());
    if (!source_.server().empty()) report_.source += " (" + source_.server() + ")";
    if (!target_.server().empty()) report_.target += " (" + target_.server() + ")";
    for (Endpoint* e : {&source_, &target_}) {
      if (!e->has_pexpiretime()) {
        Note(e->Describe() +
             " has no PEXPIRETIME (before Redis 7.0): expiries are computed "
             "from PTTL and may jitter by a few ms; use --ttl-tolerance-ms");
      }
    }
    if (!options_.only_keys.empty()) {
      for (const auto& [db, keys] : options_.only_keys) keys_expected_ += keys.size();
      return CompareRounds([this] { return NamedKeysPass(); });
    }
    auto pairs = DbPairs();
    if (!pairs) return MakeError(std::move(pairs).error());
    pairs_ = std::move(*pairs);
    for (const auto& p : pairs_) {
      if (p.source_db >= 0) {
        report_.source_dbs.push_back(p.source_db);
      } else {
        Note("target db" + std::to_string(p.target_db) +
             " holds keys but no source database maps to it: all its keys count as extra");
      }
    }

    if (progress_) ReadKeysExpected();
    return CompareRounds([this]() -> Result<void> {
      for (const auto& pair : pairs_) {
        if (pair.source_db >= 0) KF_RETURN_IF_ERROR(SourcePass(pair));
        KF_RETURN_IF_ERROR(TargetPass(pair));
      }
      return {};
    });
  }

 private:
  // Round 1 (`first_pass`, then the function libraries), then the re-check rounds for the
  // keys that differed, then the report.
  Result<VerifyReport> CompareRounds(const std::function<Result<void>()>& first_pass) {
    round_ = 1;
    auto round_start = SteadyClock::now();
    KF_RETURN_IF_ERROR(first_pass());
    if (options_.compare_functions) KF_RETURN_IF_ERROR(CompareFunctions());
    EndRound(round_start);
    report_.keys_per_second =
        static_cast<double>(report_.rounds[0].keys_checked) * 1000.0 /
        static_cast<double>(std::max<int64_t>(report_.rounds[0].elapsed_ms, 1));
    for (int r = 2; r <= 1 + options_.rounds; ++r) {
      if (tracked_.empty() && functions_.empty()) break;
      round_ = r;
      KF_RETURN_IF_ERROR(Wait());
      round_start = SteadyClock::now();
      KF_RETURN_IF_ERROR(Recheck());
      EndRound(round_start);
    }
    Finish();
    return std::move(report_);
  }

  // Round 1's pass over the keys the caller named (VerifyOptions::only_keys): no scans.
  Result<void> NamedKeysPass() {
    for (const auto& [db, keys] : options_.only_keys) {
      DbPair pair{db, db_map_.Map(db)};
      pairs_.push_back(pair);
      report_.source_dbs.push_back(db);
      KF_RETURN_IF_ERROR(SelectPair(pair));
      std::vector<std::string> batch;
      for (size_t i = 0; i < keys.size(); ++i) {
        if (Compared(filter_, keys[i])) batch.push_back(keys[i]);
        if (batch.size() >= options_.scan_batch || (i + 1 == keys.size() && !batch.empty())) {
          KF_RETURN_IF_ERROR(CompareAndRecord(pair, batch));
          KF_RETURN_IF_ERROR(Tick("named keys", db));
          batch.clear();
        }
      }
    }
    return {};
  }

  // --- bookkeeping ---

  int64_t MillisSince(SteadyClock::time_point t) const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t).count();
  }

  void Note(std::string note) {
    if (std::find(report_.notes.begin(), report_.notes.end(), note) == report_.notes.end()) {
      report_.notes.push_back(std::move(note));
    }
  }

  // The progress' total for round 1: the source's DBSIZE of every db compared. Only for a
  // progress display: a failure here leaves it unknown (the passes report their own).
  void ReadKeysExpected() {
    uint64_t keys = 0;
    for (const auto& pair : pairs_) {
      if (pair.source_db < 0) continue;
      if (!source_.Select(pair.source_db)) return;
      auto size = source_.Call({"DBSIZE"}, "DBSIZE");
      if (!size || size->type() != ReplyType::kInteger || size->integer() < 0) return;
      keys += static_cast<uint64_t>(size->integer());
    }
    if (options_.mode == VerifyMode::kSample) {
      keys = static_cast<uint64_t>(static_cast<double>(keys) * options_.sample_rate);
    }
    keys_expected_ = keys;
  }

  uint64_t DifferingNow() const { return tracked_.size() + untracked_keys_ + functions_.size(); }

  Result<void> Tick(std::string_view phase, int db) {
    if (progress_) {
      VerifyProgress p;
      p.round = round_;
      p.last_round = 1 + options_.rounds;
      p.phase = phase;
      p.db = db;
      p.keys_checked = round_keys_;
      p.keys_expected = round_ == 1 ? keys_expected_ : 0;
      p.differing_keys = DifferingNow();
      p.elapsed_ms = MillisSince(started_);
      progress_(p);
    }
    if (stop_ != nullptr && stop_->load()) {
      return MakeError(VerifyErrc::kStopped, "verify was stopped during round " +
                                                 std::to_string(round_) +
                                                 " before it finished; there is no result");
    }
    return {};
  }

  void EndRound(SteadyClock::time_point round_start) {
    RoundSummary s;
    s.round = round_;
    s.keys_checked = round_keys_;
    s.differing_keys = DifferingNow();
    s.elapsed_ms = MillisSince(round_start);
    report_.rounds.push_back(s);
    round_keys_ = 0;
  }

  Result<void> Wait() {
    auto until = SteadyClock::now() + options_.interval;
    while (SteadyClock::now() < until) {
      KF_RETURN_IF_ERROR(Tick("waiting", -1));
      auto left = until - SteadyClock::now();
      std::this_thread::sleep_for(
          std::min<SteadyClock::duration>(left, std::chrono::milliseconds(50)));
    }
    return {};
  }

  bool Sampled() {
    if (options_.mode != VerifyMode::kSample) return true;
    return std::bernoulli_distribution(options_.sample_rate)(rng_);
  }

  // Records the latest outcome of a key. Round 1 adds keys; later rounds only update or
  // drop keys they re-checked.
  void Record(const DbPair& pair, const std::string& key, Outcome&& outcome) {
    auto id = std::make_tuple(pair.source_db, pair.target_db, key);
    auto it = tracked_.find(id);
    if (outcome.verdict == Verdict::kGone) ++report_.keys_vanished;
    if (outcome.verdict != Verdict::kDiffers) {
      if (it != tracked_.end()) tracked_.erase(it);
      return;
    }
    if (it != tracked_.end()) {
      it->second.issues = std::move(outcome.issues);
      it->second.last_round = round_;
      return;
    }
    if (round_ != 1) return;
    if (tracked_.size() >= options_.max_tracked_keys) {
      ++untracked_keys_;
      for (const auto& issue : outcome.issues) ++untracked_counts_[static_cast<size_t>(issue.kind)];
      Note("more than " + std::to_string(options_.max_tracked_keys) +
           " keys differ: the keys beyond that limit are counted but not kept, so they are not "
           "re-checked and not listed (raise --max-tracked-keys to keep more)");
      return;
    }
    Difference d;
    d.source_db = pair.source_db;
    d.target_db = pair.target_db;
    d.key = key;
    d.issues = std::move(outcome.issues);
    d.first_round = d.last_round = round_;
    tracked_.emplace(std::move(id), std::move(d));
  }

  // --- databases ---

  Result<std::vector<DbPair>> DbPairs() {
    std::set<DbPair> pairs;
    if (!options_.dbs.empty()) {
      for (int db : options_.dbs) pairs.insert({db, db_map_.Map(db)});
      return std::vector<DbPair>(pairs.begin(), pairs.end());
    }
    auto info =
        RunBoth(source_, {{"INFO", "keyspace"}}, target_, {{"INFO", "keyspace"}}, "INFO keyspace");
    if (!info) return MakeError(std::move(info).error());
    if (info->first[0].is_error())
      return MakeError(source_.ReplyError(info->first[0], "INFO keyspace", ""));
    if (info->second[0].is_error()) {
      return MakeError(target_.ReplyError(info->second[0], "INFO keyspace", ""));
    }
    for (int db : KeyspaceDbs(info->first[0])) pairs.insert({db, db_map_.Map(db)});
    for (int t : KeyspaceDbs(info->second[0])) {
      int source_db = -1;
      for (int s = 0; s < std::max(t + 1, 256) && source_db < 0; ++s) {
        if (db_map_.Map(s) == t) source_db = s;
      }
      pairs.insert({source_db, t});
    }
    if (pairs.empty()) {
      // Nothing listed: make sure that is because both ends are empty, not because INFO
      // keyspace reads differently here (a false "equal" would be the worst outcome).
      auto sizes = RunBoth(source_, {{"DBSIZE"}}, target_, {{"DBSIZE"}}, "DBSIZE");
      if (!sizes) return MakeError(std::move(sizes).error());
      for (auto [e, r] :
           {std::pair{&source_, &sizes->first[0]}, std::pair{&target_, &sizes->second[0]}}) {
        if (r->type() != ReplyType::kInteger || r->integer() != 0) {
          return MakeError(VerifyErrc::kUnexpectedReply,
                           "INFO keyspace of " + e->Describe() +
                               " lists no database with keys, yet DBSIZE answers " +
                               r->ToString(60) + "; name the databases to compare with --db");
        }
      }
      Note("both ends are empty: nothing to compare");
    }
    return std::vector<DbPair>(pairs.begin(), pairs.end());
  }

  Result<void> SelectPair(const DbPair& pair) {
    if (pair.source_db >= 0) KF_RETURN_IF_ERROR(source_.Select(pair.source_db));
    return target_.Select(pair.target_db);
  }

  // One SCAN step on `e`: the keys (filtered) and the next cursor.
  Result<std::vector<std::string>> ScanStep(Endpoint& e, std::string* cursor) {
    Command scan = {"SCAN", *cursor, "COUNT", std::to_string(options_.scan_batch)};
    if (options_.match.size() == 1) {
      scan.push_back("MATCH");
      scan.push_back(options_.match[0]);
    }
    auto r = e.Call(scan, "SCAN");
    if (!r) return MakeError(std::move(r).error());
    if (r->is_error()) return MakeError(e.ReplyError(*r, "SCAN", ""));
    if (r->type() != ReplyType::kArray || r->size() != 2 || !(*r)[0].is_string() ||
        !(*r)[1].is_aggregate()) {
      return MakeError(e.ShapeError(*r, "SCAN", ""));
    }
    *cursor = (*r)[0].str();
    std::vector<std::string> keys;
    for (auto& k : r->mutable_children()[1].mutable_children()) {
      if (!k.is_string()) return MakeError(e.ShapeError(*r, "SCAN", ""));
      if (Compared(filter_, k.str())) keys.push_back(k.str());
    }
    return keys;
  }

  // --- passes ---

  Result<void> SourcePass(const DbPair& pair) {
    KF_RETURN_IF_ERROR(Tick("source keys", pair.source_db));
    std::string cursor = "0";
    do {
      KF_RETURN_IF_ERROR(SelectPair(pair));
      auto keys = ScanStep(source_, &cursor);
      if (!keys) return MakeError(std::move(keys).error());
      std::vector<std::string> batch;
      for (auto& k : *keys) {
        if (Sampled()) batch.push_back(std::move(k));
      }
      if (!batch.empty()) {
        KF_RETURN_IF_ERROR(CompareAndRecord(pair, batch));
        report_.source_keys_checked += batch.size();
      }
      KF_RETURN_IF_ERROR(Tick("source keys", pair.source_db));
    } while (cursor != "0");
    return {};
  }

  Result<void> TargetPass(const DbPair& pair) {
    KF_RETURN_IF_ERROR(Tick("target keys", pair.source_db));
    std::string cursor = "0";
    do {
      KF_RETURN_IF_ERROR(SelectPair(pair));
      auto keys = ScanStep(target_, &cursor);
      if (!keys) return MakeError(std::move(keys).error());
      std::vector<std::string> sampled;
      for (auto& k : *keys) {
        if (Sampled()) sampled.push_back(std::move(k));
      }
      report_.target_keys_scanned += sampled.size();
      std::vector<std::string> absent;
      if (pair.source_db < 0) {
        absent = std::move(sampled);
      } else if (!sampled.empty()) {
        std::vector<Command> exists;
        exists.reserve(sampled.size());
        for (const auto& k : sampled) exists.push_back({"EXISTS", k});
        auto r = source_.Run(exists, "EXISTS of " + std::to_string(exists.size()) + " keys");
        if (!r) return MakeError(std::move(r).error());
        for (size_t i = 0; i < sampled.size(); ++i) {
          const Reply& reply = (*r)[i];
          if (reply.is_error()) return MakeError(source_.ReplyError(reply, "EXISTS", sampled[i]));
          if (reply.type() != ReplyType::kInteger) {
            return MakeError(source_.ShapeError(reply, "EXISTS", sampled[i]));
          }
          if (reply.integer() == 0) absent.push_back(std::move(sampled[i]));
        }
      }
      // Keys the source lacks are read again on both ends (they may have just arrived).
      if (!absent.empty()) KF_RETURN_IF_ERROR(CompareAndRecord(pair, absent));
      KF_RETURN_IF_ERROR(Tick("target keys", pair.source_db));
    } while (cursor != "0");
    return {};
  }

  Result<void> Recheck() {
    KF_RETURN_IF_ERROR(Tick("re-check", -1));
    // Batches of keys with the same database pair, in map order. The batch is copied out
    // first because Record() erases keys that now match.
    auto it = tracked_.begin();
    while (it != tracked_.end()) {
      DbPair pair{std::get<0>(it->first), std::get<1>(it->first)};
      std::vector<std::string> batch;
      while (it != tracked_.end() && batch.size() < options_.scan_batch &&
             std::get<0>(it->first) == pair.source_db && std::get<1>(it->first) == pair.target_db) {
        batch.push_back(std::get<2>(it->first));
        ++it;
      }
      // Re-reading may erase entries before `it`, never `it` itself (not in the batch).
      KF_RETURN_IF_ERROR(SelectPair(pair));
      KF_RETURN_IF_ERROR(CompareAndRecord(pair, batch));
      KF_RETURN_IF_ERROR(Tick("re-check", pair.source_db));
    }
    if (!functions_.empty()) KF_RETURN_IF_ERROR(CompareFunctions());
    return {};
  }

  Result<void> CompareAndRecord(const DbPair& pair, const std::vector<std::string>& keys) {
    auto outcomes = CompareBatch(pair, keys);
    if (!outcomes) return MakeError(std::move(outcomes).error());
    for (size_t i = 0; i < keys.size(); ++i) Record(pair, keys[i], std::move((*outcomes)[i]));
    round_keys_ += keys.size();
    return {};
  }

  // --- per-key compare ---

  Result<KeyProbe> ParseProbe(Endpoint& e, const std::string& key, const Reply& type,
                              const Reply& expiry, const Reply* memory, int64_t now_ms) {
    KeyProbe p;
    if (type.is_error()) return MakeError(e.ReplyError(type, "TYPE", key));
    if (!type.is_string()) return MakeError(e.ShapeError(type, "TYPE", key));
    p.type = type.str();
    if (expiry.is_error()) return MakeError(e.ReplyError(expiry, "PEXPIRETIME", key));
    if (expiry.type() != ReplyType::kInteger)
      return MakeError(e.ShapeError(expiry, "PEXPIRETIME", key));
    int64_t v = expiry.integer();
    if (v >= 0) p.expire_ms = e.has_pexpiretime() ? v : now_ms + v;
    if (memory != nullptr && memory->type() == ReplyType::kInteger) p.memory = memory->integer();
    if (memory != nullptr && memory->is_null() && p.present()) {
      // Deleted (or expired) between TYPE and MEMORY USAGE in the same pipeline.
      p.type = "none";
      p.expire_ms = -1;
    }
    if (memory != nullptr && memory->is_error()) {
      Note(e.Describe() + " refused MEMORY USAGE (" + Printable(memory->str(), 80) +
           "): values of unknown size were compared in windows, which is slower");
    }
    return p;
  }

  bool Expiring(const KeyProbe& p, int64_t now_ms) const {
    return p.expire_ms >= 0 && p.expire_ms <= now_ms + options_.expiry_grace_ms;
  }

  Result<std::vector<Outcome>> CompareBatch(const DbPair& pair,
                                            const std::vector<std::string>& keys) {
    const bool values = options_.mode != VerifyMode::kKeys;
    const size_t per_key = values ? 3 : 2;
    auto probe_commands = [&](const Endpoint& e) {
      std::vector<Command> c;
      c.reserve(keys.size() * per_key);
      for (const auto& k : keys) {
        c.push_back({"TYPE", k});
        c.push_back({e.has_pexpiretime() ? "PEXPIRETIME" : "PTTL", k});
        if (values) c.push_back({"MEMORY", "USAGE", k});
      }
      return c;
    };
    std::vector<Command> source_commands;
    if (pair.source_db >= 0) source_commands = probe_commands(source_);
    auto probes = RunBoth(source_, source_commands, target_, probe_commands(target_),
                          "TYPE/PEXPIRETIME of " + std::to_string(keys.size()) + " keys");
    if (!probes) return MakeError(std::move(probes).error());
    const int64_t now_ms = UnixMillis();

    std::vector<Outcome> out(keys.size());
    std::vector<KeyProbe> src(keys.size()), tgt(keys.size());
    std::vector<size_t> small, big;
    for (size_t i = 0; i < keys.size(); ++i) {
      const auto& key = keys[i];
      if (pair.source_db >= 0) {
        const auto& r = probes->first;
        auto p = ParseProbe(source_, key, r[i * per_key], r[i * per_key + 1],
                            values ? &r[i * per_key + 2] : nullptr, now_ms);
        if (!p) return MakeError(std::move(p).error());
        src[i] = std::move(*p);
      }
      const auto& r = probes->second;
      auto p = ParseProbe(target_, key, r[i * per_key], r[i * per_key + 1],
                          values ? &r[i * per_key + 2] : nullptr, now_ms);
      if (!p) return MakeError(std::move(p).error());
      tgt[i] = std::move(*p);

      const KeyProbe& s = src[i];
      const KeyProbe& t = tgt[i];
      Outcome& o = out[i];
      if (!s.present() && !t.present()) {
        o.verdict = Verdict::kGone;
        continue;
      }
      if (s.present() != t.present()) {
        const KeyProbe& there = s.present() ? s : t;
        if (Expiring(there, now_ms)) {
          o.verdict = Verdict::kGone;  // expiring as it was read: the other end got there first
          continue;
        }
        o.verdict = Verdict::kDiffers;
        o.issues.push_back({s.present() ? DiffKind::kMissing : DiffKind::kExtra,
                            "a " + Printable(there.type, 40) + " on the " +
                                (s.present() ? "source" : "target") + " only"});
        continue;
      }
      if (s.type != t.type) {
        o.verdict = Verdict::kDiffers;
        o.issues.push_back(
            {DiffKind::kType, Printable(s.type, 40) + " vs " + Printable(t.type, 40)});
        continue;
      }
      bool ttl_differs = (s.expire_ms < 0) != (t.expire_ms < 0) ||
                         std::llabs(s.expire_ms - t.expire_ms) > options_.ttl_tolerance_ms;
      if (ttl_differs) {
        o.verdict = Verdict::kDiffers;
        std::string detail = "expiry " + ExpiryText(s.expire_ms) + " vs " + ExpiryText(t.expire_ms);
        if (s.expire_ms >= 0 && t.expire_ms >= 0) {
          detail += " (" + std::to_string(t.expire_ms - s.expire_ms) + " ms)";
        }
        o.issues.push_back({DiffKind::kTtl, std::move(detail)});
      }
      if (!values) continue;
      bool known = s.memory >= 0 && t.memory >= 0;
      if (known && !dump_refused_ &&
          static_cast<uint64_t>(std::max(s.memory, t.memory)) <= options_.big_value_bytes) {
        small.push_back(i);
      } else {
        big.push_back(i);
      }
    }
    if (!values) return out;

    // Small values: DUMP in batches bounded by the byte budget.
    size_t at = 0;
    while (at < small.size()) {
      std::vector<size_t> group;
      uint64_t bytes = 0;
      while (at < small.size() &&
             (group.empty() || bytes + static_cast<uint64_t>(std::max(src[small[at]].memory,
                                                                      tgt[small[at]].memory)) <=
                                   options_.dump_batch_bytes)) {
        bytes += static_cast<uint64_t>(std::max(src[small[at]].memory, tgt[small[at]].memory));
        group.push_back(small[at++]);
      }
      KF_RETURN_IF_ERROR(CompareDumps(keys, group, src, tgt, &out, &big));
    }
    // Big values (and undecodable ones): windows.
    std::sort(big.begin(), big.end());
    for (size_t i : big) {
      if (out[i].verdict == Verdict::kGone) continue;
      if (!out[i].issues.empty() && out[i].issues[0].kind != DiffKind::kTtl) continue;
      ++report_.big_keys_windowed;
      auto verdict = CompareInWindows(source_, target_, keys[i], src[i].type, options_);
      if (!verdict) return MakeError(std::move(verdict).error());
      if (!verdict->equal) {
        out[i].verdict = Verdict::kDiffers;
        out[i].issues.insert(out[i].issues.begin(), {DiffKind::kValue, std::move(verdict->detail)});
      }
    }
    return out;
  }

  Result<void> CompareDumps(const std::vector<std::string>& keys, const std::vector<size_t>& group,
                            const std::vector<KeyProbe>& src, const std::vector<KeyProbe>& tgt,
                            std::vector<Outcome>* out, std::vector<size_t>* big) {
    std::vector<Command> dumps;
    dumps.reserve(group.size());
    for (size_t i : group) dumps.push_back({"DUMP", keys[i]});
    auto r = RunBoth(source_, dumps, target_, dumps,
                     "DUMP of " + std::to_string(group.size()) + " keys");
    if (!r) return MakeError(std::move(r).error());
    const int64_t now_ms = UnixMillis();
    rdb::ReaderOptions reader_options;
    reader_options.module_passthrough = true;
    for (size_t g = 0; g < group.size(); ++g) {
      const size_t i = group[g];
      const Reply& a = r->first[g];
      const Reply& b = r->second[g];
      if (a.is_error() || b.is_error()) {
        const bool on_source = a.is_error();
        const Reply& refusal = on_source ? a : b;
        Endpoint& e = on_source ? source_ : target_;
        if (!refusal.str().starts_with("NOPERM") &&
            refusal.str().find("unknown command") == std::string::npos) {
          return MakeError(e.ReplyError(refusal, "DUMP", keys[i]));
        }
        // DUMP refused by ACL or renamed away (managed services): windows work without it.
        dump_refused_ = true;
        Note(e.Describe() + " refused DUMP (" + Printable(refusal.str(), 80) +
             "): values were compared in windows instead, which is slower");
        big->push_back(i);
        continue;
      }
      Outcome& o = (*out)[i];
      if (a.is_null() || b.is_null()) {
        // Deleted (or expired) between TYPE and DUMP.
        if (a.is_null() && b.is_null()) {
          o = Outcome{Verdict::kGone, {}};
          continue;
        }
        const KeyProbe& there = a.is_null() ? tgt[i] : src[i];
        if (Expiring(there, now_ms)) {
          o = Outcome{Verdict::kGone, {}};
          continue;
        }
        o.verdict = Verdict::kDiffers;
        o.issues = {{a.is_null() ? DiffKind::kExtra : DiffKind::kMissing,
                     std::string("deleted from the ") + (a.is_null() ? "source" : "target") +
                         " during the compare"}};
        continue;
      }
      if (!a.is_string() || !b.is_string()) {
        return MakeError(
            (a.is_string() ? target_ : source_).ShapeError(a.is_string() ? b : a, "DUMP", keys[i]));
      }
      auto va = rdb::DecodeDumpPayload(a.bytes(), reader_options);
      auto vb = rdb::DecodeDumpPayload(b.bytes(), reader_options);
      if (!va || !vb) {
        // An encoding the decoder does not know (a newer server?): compare in windows.
        Note("some DUMP payloads could not be decoded (" +
             (!va ? va.error().ToString() : vb.error().ToString()) +
             "); those keys were compared in windows instead");
        big->push_back(i);
        continue;
      }
      if (auto diff = DescribeValueDifference(&*va, &*vb)) {
        o.verdict = Verdict::kDiffers;
        o.issues.insert(o.issues.begin(), {DiffKind::kValue, std::move(*diff)});
      }
    }
    return {};
  }

  // --- function libraries ---

  struct Library {
    std::string engine;
    std::string code;
  };

  Result<std::optional<std::map<std::string, Library>>> Libraries(Endpoint& e, const Reply& r) {
    using Libs = std::optional<std::map<std::string, Library>>;
    if (r.is_error()) {
      const std::string& words = r.str();
      if (words.find("unknown command") != std::string::npos ||
          words.find("unknown subcommand") != std::string::npos) {
        return Libs();  // no FUNCTION (before Redis 7.0)
      }
      return MakeError(e.ReplyError(r, "FUNCTION LIST WITHCODE", ""));
    }
    if (!r.is_aggregate()) return MakeError(e.ShapeError(r, "FUNCTION LIST WITHCODE", ""));
    std::map<std::string, Library> libs;
    for (const auto& lib : r.children()) {
      const Reply* name = FieldOf(lib, "library_name");
      const Reply* engine = FieldOf(lib, "engine");
      const Reply* code = FieldOf(lib, "library_code");
      if (!name || !name->is_string() || !code || !code->is_string()) {
        return MakeError(e.ShapeError(lib, "FUNCTION LIST WITHCODE", ""));
      }
      std::string engine_name = engine && engine->is_string() ? engine->str() : "";
      for (auto& c : engine_name)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      libs[name->str()] = Library{std::move(engine_name), code->str()};
    }
    return Libs(std::move(libs));
  }

  Result<void> CompareFunctions() {
    KF_RETURN_IF_ERROR(Tick("functions", -1));
    auto r = RunBoth(source_, {{"FUNCTION", "LIST", "WITHCODE"}}, target_,
                     {{"FUNCTION", "LIST", "WITHCODE"}}, "FUNCTION LIST");
    if (!r) return MakeError(std::move(r).error());
    auto a = Libraries(source_, r->first[0]);
    if (!a) return MakeError(std::move(a).error());
    auto b = Libraries(target_, r->second[0]);
    if (!b) return MakeError(std::move(b).error());
    if (!*a) {
      Note(source_.Describe() +
           " has no FUNCTION command (before Redis 7.0): function "
           "libraries were not compared");
      return {};
    }
    std::map<std::string, Library> none;
    const auto& sa = **a;
    const auto& sb = *b ? **b : none;
    if (!*b && !sa.empty()) {
      Note(target_.Describe() +
           " has no FUNCTION command, so it cannot hold the source's "
           "function libraries");
    }
    std::map<std::string, Difference> found;
    auto add = [&](const std::string& name, std::string detail) {
      Difference d;
      d.is_function = true;
      d.key = name;
      d.issues.push_back({DiffKind::kFunction, std::move(detail)});
      auto prev = functions_.find(name);
      d.first_round = prev != functions_.end() ? prev->second.first_round : round_;
      d.last_round = round_;
      found.emplace(name, std::move(d));
    };
    for (const auto& [name, lib] : sa) {
      auto it = sb.find(name);
      if (it == sb.end()) {
        add(name, "library missing on target");
      } else if (it->second.engine != lib.engine) {
        add(name,
            "engine " + Printable(lib.engine, 20) + " vs " + Printable(it->second.engine, 20));
      } else if (it->second.code != lib.code) {
        add(name, "code differs (" + std::to_string(lib.code.size()) + " vs " +
                      std::to_string(it->second.code.size()) + " bytes)");
      }
    }
    for (const auto& [name, lib] : sb) {
      if (!sa.count(name)) add(name, "library only on target");
    }
    round_keys_ += sa.size() + sb.size();
    // A library that differs only from round 2 on is a change made during the verify,
    // still worth reporting; libraries are few, so all of them are kept.
    functions_ = std::move(found);
    return {};
  }

  // --- report ---

  void Finish() {
    report_.counts = untracked_counts_;
    for (const auto& [name, d] : functions_) {
      for (const auto& issue : d.issues) ++report_.counts[static_cast<size_t>(issue.kind)];
      if (report_.examples.size() < options_.max_examples) report_.examples.push_back(d);
      if (options_.list_remaining) report_.remaining.push_back(d);
    }
    for (const auto& [id, d] : tracked_) {
      for (const auto& issue : d.issues) ++report_.counts[static_cast<size_t>(issue.kind)];
      if (report_.examples.size() < options_.max_examples) report_.examples.push_back(d);
      if (options_.list_remaining) report_.remaining.push_back(d);
    }
    report_.untracked_keys = untracked_keys_;
    report_.differing_keys = DifferingNow();
    report_.equal = report_.differing_keys == 0;
    report_.elapsed_ms = MillisSince(started_);
  }

  const VerifyOptions& options_;
  const ProgressCallback& progress_;
  const std::atomic<bool>* stop_;
  Endpoint source_;
  Endpoint target_;
  sync::KeyFilter filter_;
  sync::DbMap db_map_;
  std::mt19937_64 rng_;
  std::vector<DbPair> pairs_;

  int round_ = 1;
  uint64_t round_keys_ = 0;
  uint64_t keys_expected_ = 0;  // VerifyProgress::keys_expected
  SteadyClock::time_point started_;
  std::map<std::tuple<int, int, std::string>, Difference> tracked_;
  std::map<std::string, Difference> functions_;
  uint64_t untracked_keys_ = 0;
  std::array<uint64_t, kDiffKindCount> untracked_counts_{};
  bool dump_refused_ = false;  // an end refused DUMP: every value goes through windows
  VerifyReport report_;
};

}  // namespace

Result<VerifyReport> Verify(const net::Uri& source, const net::Uri& target,
                            const VerifyOptions& options, const ProgressCallback& progress,
                            const std::atomic<bool>* stop) {
  Comparison comparison(source, target, options, progress, stop);
  return comparison.Run();
}

}  // namespace kf::verify
