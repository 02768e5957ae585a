// Plan: the change set, from the spec, the journal and the source's INFO.
#include "control/plan.h"

#include "control/doctor.h"
#include "control/journal.h"
#include "control/migration.h"
#include "control/provider.h"
#include "control/source_control.h"
#include "net/identity_probe.h"
#include "net/server_info.h"
#include "source/rdb_file_survey.h"

namespace kf::control {
namespace {

// What the journal says about an earlier apply of this spec; true when it is DONE (the
// plan then only says so).
bool JournalStanding(const Spec& spec, Plan& plan) {
  if (!Journal::Exists(spec.state_dir)) return false;
  auto journal = Journal::Open(spec.state_dir, Journal::Mode::kReadOnly);
  if (!journal) return false;
  auto state = (*journal)->GetAll();
  if (!state) return false;
  auto get = [&](std::string_view key) {
    auto it = state->find(std::string(key));
    return it == state->end() ? std::string() : it->second;
  };
  std::string phase = get(kKeyPhase);
  if (phase.empty()) return false;
  std::string target;
  if (auto uri = MakeProvider(spec, journal->get())->TargetUri()) target = uri->Endpoint();
  plan.data["journal_phase"] = phase;
  if (phase == "DONE") {
    plan.done = true;
    plan.data["done"] = true;
    plan.text += "The migration \"" + spec.name + "\" is done: it cut over" +
                 (target.empty() ? std::string() : " to " + target) +
                 ". Nothing to plan (keyferry events -f " + spec.origin +
                 " shows what happened; a new migration needs a new name or state_dir).\n";
    return true;
  }
  auto p = ParsePhase(phase);
  bool cutover_started = !get(kKeyCutoverStarted).empty() || !get(kKeyCutoverDone).empty();
  if (cutover_started) {
    plan.text +=
        "NOTE: this migration passed its point of no return (the cutover hook started; "
        "journal phase " +
        phase +
        "). keyferry apply finishes it (it runs the hook again); abort and rollback "
        "refuse.\n\n";
  } else if (p && !IsTerminal(*p)) {
    plan.text += "NOTE: a migration with this state dir is under way (phase " + phase +
                 "): keyferry apply resumes it, keyferry abort rolls it back.\n\n";
  }
  return false;
}

}  // namespace

Plan MakePlan(const Spec& spec) {
  Plan plan;
  nlohmann::json& d = plan.data;
  d["name"] = spec.name;
  d["state_dir"] = spec.state_dir;
  std::string& t = plan.text;
  if (JournalStanding(spec, plan)) return plan;
  t += "Migration \"" + spec.name + "\" (state in " + spec.state_dir + ")\n\n";
  const auto provider = MakeProvider(spec, nullptr);

  // Source, read-only.
  std::string version;
  std::string keyspace;
  int source_rdb = -1;
  // A backup file as the source (source.rdb_file): read once, parse only.
  uint64_t file_field_ttl_hashes = 0;
  if (spec.source.is_file()) {
    auto survey = source::SurveyRdbFile(spec.source.rdb_file);
    if (!survey) {
      d["source"] = {{"rdb_file", spec.source.rdb_file}, {"error", survey.error().ToString()}};
      t += "  source       the backup file " + spec.source.rdb_file + " (cannot read it)\n";
      plan.errors.push_back(survey.error().ToString() +
                            "; check source.rdb_file (keyferry doctor -f " + spec.origin +
                            " tells more)");
    } else {
      source_rdb = survey->rdb_version;
      file_field_ttl_hashes = survey->field_ttl_hashes;
      d["source"] = {{"rdb_file", spec.source.rdb_file},
                     {"rdb_version", survey->rdb_version},
                     {"saved_by", survey->saved_by},
                     {"bytes", survey->bytes},
                     {"keys", survey->keys},
                     {"functions", survey->functions}};
      t += "  source       the backup file " + spec.source.rdb_file + " (RDB " +
           std::to_string(survey->rdb_version) +
           (survey->saved_by.empty() ? "" : ", saved by " + survey->saved_by) + ", " +
           std::to_string(survey->keys) + " keys, " + std::to_string(survey->bytes) + " bytes)\n";
    }
  } else {
    auto source = spec.SourceUri();
    if (!source) {
      d["source"] = {{"uri", spec.source.uri}, {"error", source.error().ToString()}};
      t += "  source       " + spec.source.uri + " (cannot read it: " + source.error().ToString() +
           ")\n";
    } else {
      SourceControl control(*source);
      auto server = control.Info("server");
      auto ks = control.Info("keyspace");
      if (server) {
        version = net::InfoField(*server, "redis_version");
        source_rdb = net::ServerRdbVersion(*server);
      }
      if (ks) keyspace = *ks;
      d["source"] = {{"uri", source->ToString(true)}, {"version", version}};
      t += "  source       " + source->ToString(true) +
           (server ? " (Redis " + version + ")"
                   : " (unreachable: " + server.error().ToString() + ")") +
           "\n";
      if (!server) {
        plan.errors.push_back("cannot read the source " + source->Endpoint() + ": " +
                              server.error().ToString() +
                              "; check source.uri and that the server runs (keyferry doctor -f " +
                              spec.origin + " tells more)");
      } else {
        // A cluster source is migrated shard by shard (docs/cluster.md, "apply from a
        // cluster source"); doctor checks that it is stable.
        auto source_id = net::ParseServerIdentity(*server);
        if (source_id.cluster()) {
          t += "               a node of a Redis Cluster: every primary is copied, paused and " +
               std::string(spec.after_cutover.source == SourceAfterCutover::kKeep
                               ? "kept"
                               : "shut down with its replicas") +
               "\n";
        }
      }
      if (server && provider->kind() == ProviderKind::kExternal) {
        auto target = provider->TargetUri();
        auto source_id = net::ParseServerIdentity(*server);
        auto target_id = target ? net::ReadServerIdentity(*target) : Result<net::ServerIdentity>();
        if (target && target_id && net::SameServer(source_id, *target_id)) {
          plan.errors.push_back(net::SameServerMessage(*source, *target, *target_id) +
                                ": copying a server onto itself would destroy its data; set "
                                "target.external.uri to the Valkey server to migrate to");
        }
        const bool want_cluster = spec.target.topology == Topology::kCluster;
        if (target && target_id && target_id->cluster() && !want_cluster) {
          plan.errors.push_back(net::ClusterNodeMessage(*target, "target") +
                                "; set target.topology: cluster to migrate into that cluster, or "
                                "set target.external.uri to a standalone Valkey server");
        }
      }
    }
    if (!source) plan.errors.push_back(source.error().ToString());
  }
  // Target.
  ProviderDescription described = provider->Describe();
  d["provision"] = described.data;
  t += described.line + "\n";
  // Path and transcoding.
  std::string transcoding;
  if (source_rdb < 0) {
    transcoding = "unknown until the source can be read";
  } else if (source_rdb <= 11) {
    transcoding = "none: Valkey 8 loads RDB " + std::to_string(source_rdb) +
                  " values as they are (RESTORE with the source's bytes)";
  } else {
    transcoding = "RDB " + std::to_string(source_rdb) +
                  " values get a version-11 footer (types below 22 are unchanged); hashes with "
                  "field TTLs: " +
                  std::string(OnUnsupportedName(spec.migration.on_unsupported));
  }
  bool field_ttls = (keyspace.find("subexpiry=") != std::string::npos &&
                     keyspace.find("subexpiry=0") == std::string::npos) ||
                    file_field_ttl_hashes > 0;
  if (spec.source.is_file()) {
    d["path"] = "restore: the file streamed into RESTOREs, offline (no live sync, no pause)";
    t += "  ~ copy       the file streamed into RESTOREs (offline: nothing to keep in sync, "
         "no write pause)\n";
  } else if (spec.source.mode == SourceMode::kScan) {
    d["path"] = "scan mode: SCAN + DUMP, then keyspace notifications";
    t += "  ~ copy       by SCAN + DUMP, then every key notified copied again (scan mode)\n";
  } else {
    d["path"] = "replica link (PSYNC): snapshot streamed, then the live replication stream";
    t += "  ~ copy       as a replica of the source (PSYNC): snapshot streamed into RESTOREs, "
         "then every write applied in order\n";
  }
  d["transcoding"] = transcoding;
  d["field_ttl_keys_present"] = field_ttls;
  t += "  ~ transcode  " + transcoding + "\n";
  if (field_ttls) {
    t += "  ! the source holds hashes with field TTLs, which Valkey 8 cannot hold "
         "(on_unsupported: " +
         std::string(OnUnsupportedName(spec.migration.on_unsupported)) + ")\n";
  }
  // Pause, verify, cutover, decommission.
  d["write_pause"] = WritePauseName(spec.migration.write_pause);
  d["verify"] = VerifyName(spec.migration.verify, spec.migration.verify_sample_rate);
  d["cutover_hook"] = spec.cutover.hook;
  d["after_cutover"] = SourceAfterCutoverName(spec.after_cutover.source);
  if (spec.source.is_file()) {
    d["write_pause"] = "none";
    t += "  ~ verify     every key of the file compared with the target after the restore "
         "(values, expiries, key count, function libraries)\n";
  } else {
    t += "  ~ pause      CLIENT PAUSE WRITE on the source " +
         std::string(spec.migration.write_pause == WritePause::kReadOnly
                         ? "for the whole migration (read-only)"
                         : "from the moment the target has caught up until cutover") +
         " (safety timeout " + std::to_string(spec.migration.max_pause_ms) + " ms)\n";
    t +=
        "  ~ verify     " + VerifyName(spec.migration.verify, spec.migration.verify_sample_rate) +
        ", " + std::to_string(spec.migration.verify_rounds) +
        " re-check rounds while writes flow; in the pause: offsets" +
        (spec.migration.pause_verify_keys > 0
             ? " and the last " + std::to_string(spec.migration.pause_verify_keys) + " keys written"
             : std::string()) +
        "\n";
  }
  t += "  ~ cutover    " +
       (spec.cutover.hook.empty() ? std::string("no hook configured")
                                  : "run: " + spec.cutover.hook + " (in " + spec.spec_dir + ")") +
       "\n";
  DoctorCheck hook = CheckCutoverHook(spec);
  d["cutover_hook_check"] = {{"status", hook.status == CheckStatus::kOk     ? "ok"
                                        : hook.status == CheckStatus::kWarn ? "warn"
                                                                            : "FAIL"},
                             {"detail", hook.detail}};
  if (hook.status != CheckStatus::kOk) {
    t += "  ! hook       " + hook.detail + (hook.action.empty() ? "" : "; " + hook.action) + "\n";
  }
  if (hook.status == CheckStatus::kFail) plan.blockers.push_back(hook.detail + "; " + hook.action);
  if (spec.source.is_file()) {
    t += "  = keep       the file as it is\n";
  } else if (spec.after_cutover.source == SourceAfterCutover::kShutdown) {
    t += "  - shut down  the source " + spec.source.uri + " after cutover\n";
  } else {
    t += "  = keep       the source running after cutover (writes there are not copied)\n";
  }
  d["errors"] = plan.errors;
  d["blockers"] = plan.blockers;
  d["warning"] = "after CUTOVER the move cannot be undone";
  t += "\nWARNING: after CUTOVER the move cannot be undone: the data then lives in Valkey and "
       "keyferry refuses to roll back.\nNothing was changed.";
  for (const auto& e : plan.errors) t += "\nERROR: " + e;
  for (const auto& b : plan.blockers) t += "\nBLOCKED: " + b;
  if (plan.errors.empty() && plan.blockers.empty()) {
    t += " Run `keyferry apply -f " + spec.origin + "` to do it.";
  } else {
    t += "\nFix the above before running keyferry apply (PREFLIGHT would refuse).";
  }
  t += "\n";
  return plan;
}

}  // namespace kf::control
