// Plan: the change set, from the spec and the source's INFO.
#include "control/plan.h"

#include "control/source_control.h"
#include "net/server_info.h"

namespace kf::control {

Plan MakePlan(const Spec& spec) {
  Plan plan;
  nlohmann::json& d = plan.data;
  d["name"] = spec.name;
  d["state_dir"] = spec.state_dir;
  std::string& t = plan.text;
  t += "Migration \"" + spec.name + "\" (state in " + spec.state_dir + ")\n\n";

  // Source, read-only.
  std::string version;
  std::string keyspace;
  int source_rdb = -1;
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
  }
  // Target.
  if (spec.target.provider == ProviderKind::kLocal) {
    const auto& l = spec.target.local;
    std::string port = l.port ? std::to_string(l.port) : "a free port";
    d["provision"] = {{"provider", "local"},
                      {"binary", l.valkey_server},
                      {"bind", l.bind},
                      {"port", l.port},
                      {"maxmemory", l.maxmemory},
                      {"persistence", PersistenceName(l.persistence)},
                      {"dir", spec.state_dir + "/target"}};
    t += "  + provision  " + l.valkey_server + " on " + l.bind + ":" + port + ", maxmemory " +
         (l.maxmemory ? std::to_string(l.maxmemory) + " bytes" : std::string("unlimited")) +
         ", persistence " + std::string(PersistenceName(l.persistence)) + ", data in " +
         spec.state_dir + "/target\n";
  } else {
    d["provision"] = {{"provider", "external"}, {"uri", spec.target.external.uri}};
    t += "  = target     external " + spec.target.external.uri + " (must be empty)\n";
  }
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
  bool field_ttls = keyspace.find("subexpiry=") != std::string::npos &&
                    keyspace.find("subexpiry=0") == std::string::npos;
  d["path"] = "replica link (PSYNC): snapshot streamed, then the live replication stream";
  d["transcoding"] = transcoding;
  d["field_ttl_keys_present"] = field_ttls;
  t += "  ~ copy       as a replica of the source (PSYNC): snapshot streamed into RESTOREs, "
       "then every write applied in order\n";
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
  t += "  ~ pause      CLIENT PAUSE WRITE on the source " +
       std::string(spec.migration.write_pause == WritePause::kReadOnly
                       ? "for the whole migration (read-only)"
                       : "from the moment the target has caught up until cutover") +
       " (safety timeout " + std::to_string(spec.migration.max_pause_ms) + " ms)\n";
  t += "  ~ verify     " + VerifyName(spec.migration.verify, spec.migration.verify_sample_rate) +
       ", " + std::to_string(spec.migration.verify_rounds) +
       " re-check rounds while writes flow; in the pause: offsets" +
       (spec.migration.pause_verify_keys > 0
            ? " and the last " + std::to_string(spec.migration.pause_verify_keys) + " keys written"
            : std::string()) +
       "\n";
  t += "  ~ cutover    " +
       (spec.cutover.hook.empty() ? std::string("no hook configured")
                                  : "run: " + spec.cutover.hook) +
       "\n";
  if (spec.after_cutover.source == SourceAfterCutover::kShutdown) {
    t += "  - shut down  the source " + spec.source.uri + " after cutover\n";
  } else {
    t += "  = keep       the source running after cutover (writes there are not copied)\n";
  }
  d["warning"] = "after CUTOVER the move cannot be undone";
  t += "\nWARNING: after CUTOVER the move cannot be undone: the data then lives in Valkey and "
       "keyferry refuses to roll back.\nNothing was changed. Run `keyferry apply -f " +
       spec.origin + "` to do it.\n";
  return plan;
}

}  // namespace kf::control
