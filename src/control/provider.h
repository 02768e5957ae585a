// Provider: what a migration needs of its target, behind one interface (DESIGN.md §2,
// "control::Provider"). The apply state machine (migration.cc) asks the provider to
// provision the target, to confirm it on a resumed copy, to confirm it is still there after
// the cutover started, for its URI, and to remove or empty it on rollback; it never asks
// which kind of provider it holds.
//
// Two implementations, chosen from the spec by MakeProvider:
//  - LocalStandaloneProvider (`provider: local`): one daemonized valkey-server under
//    <state_dir>/target, started by keyferry (the process start lives in local_provider.h);
//    its pid, port and dir are journaled (target.pid, target.port, target.dir).
//  - ExternalProvider (`provider: external`): a server the operator runs; keyferry checks it
//    is reachable, is not the source, is not a cluster node and is empty, and empties it
//    again on rollback (it was empty before).
//
// Contract every provider meets (and a future LocalClusterProvider must meet too):
//  - Provision() is idempotent across runs: it finds what an earlier run journaled and
//    reuses it when it is the same live thing, and journals what it starts before
//    returning, so a crash right after leaves nothing unaccounted for. Its errors say what
//    failed and what to do; the migration rolls back on them (which calls Remove()).
//  - ConfirmOrReplace() runs before a resumed copy (FULL_SYNC or CATCH_UP) goes on: it
//    returns true when the target was replaced by a new, empty one (the copy then starts
//    over from FULL_SYNC; a replaced target never holds the applied-offset marker, so
//    nothing is resumed into it).
//  - ConfirmAfterCutover() runs when an apply resumes a cutover that had started: the data
//    lives in the target then, so it only checks and never replaces anything.
//  - TargetUri() is where keyferry (the writer, verify, the hook's {uri}/{host}/{port})
//    reaches the target, with credentials; it reads what Provision() journaled.
//  - Remove() undoes Provision() on rollback and reports (as events) what it did; an error
//    means something was left behind (the migration then ends FAILED, not ROLLED_BACK).
//  - Describe() is the plan's line and JSON for the target; it does no IO.
//
// A LocalClusterProvider (local_cluster_provider.h; target.topology: cluster, shards and
// replicas_per_shard) in addition: starts shards * (1 + replicas_per_shard) valkey-server
// processes with cluster-enabled, journals every node (target.nodes: pid, port, dir, role)
// before it forms the cluster, assigns the 16384 slots over the shards, attaches the
// replicas and waits until CLUSTER INFO says cluster_state:ok on every node; confirms
// (resume) every node, replacing the whole cluster when any primary is gone; gives
// TargetUri() as one seed node (the hook's {nodes}, every primary's host:port, is read from
// the cluster at CUTOVER); and removes every node and dir on rollback.
//
// An ExternalProvider with target.topology: cluster takes any node of an existing, empty
// cluster: every slot served, cluster_state:ok, no slot migration in progress, no key on
// any primary; rollback empties every primary.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "control/journal.h"
#include "control/spec.h"
#include "net/uri.h"

namespace kf::control {

// Journal state keys of the target, written by the provider (pid, port, dir) and by the
// live sync's start (written: keyferry has written to the target; an external target that
// holds keys is then keyferry's copy, not someone else's data). Rollback erases them.
inline constexpr std::string_view kKeyTargetPid = "target.pid";
inline constexpr std::string_view kKeyTargetPort = "target.port";
inline constexpr std::string_view kKeyTargetDir = "target.dir";
inline constexpr std::string_view kKeyTargetWritten = "target.written";
// A local cluster: every node (JSON list, local_cluster_provider.h) and "formed" once the
// cluster was formed. target.port is then the seed node's port.
inline constexpr std::string_view kKeyTargetNodes = "target.nodes";
inline constexpr std::string_view kKeyTargetCluster = "target.cluster";

// An event the provider reports to the migration's journal (the caller picks the phase).
using ProviderEvent =
    std::function<void(EventKind kind, const std::string& message, const nlohmann::json& data)>;

// What plan shows of the target: one line of text (without the trailing newline) and the
// "provision" object of plan's JSON.
struct ProviderDescription {
  std::string line;
  nlohmann::json data;
};

class Provider {
 public:
  virtual ~Provider() = default;

  virtual ProviderKind kind() const = 0;
  // PROVISION: start the target (or check the given one), journaling what was started.
  virtual Result<void> Provision(const ProviderEvent& event) = 0;
  // A resumed copy: the provisioned target is confirmed, or replaced by a new one (true).
  virtual Result<bool> ConfirmOrReplace(const ProviderEvent& event) = 0;
  // A resumed cutover: the target must still be there; never replaced.
  virtual Result<void> ConfirmAfterCutover() = 0;
  // Where keyferry reaches the target (with credentials).
  virtual Result<net::Uri> TargetUri() const = 0;
  // Rollback: stop and remove what Provision() started, or empty what keyferry wrote.
  virtual Result<void> Remove(const ProviderEvent& event) = 0;
  // For plan: no IO.
  virtual ProviderDescription Describe() const = 0;
};

// `provider: local`, one standalone valkey-server.
class LocalStandaloneProvider : public Provider {
 public:
  // `journal` may be null (plan, which only describes); TargetUri() then has port 0, as
  // before PROVISION journaled the port.
  LocalStandaloneProvider(const Spec& spec, Journal* journal) : spec_(spec), journal_(journal) {}

  ProviderKind kind() const override { return ProviderKind::kLocal; }
  Result<void> Provision(const ProviderEvent& event) override;
  Result<bool> ConfirmOrReplace(const ProviderEvent& event) override;
  Result<void> ConfirmAfterCutover() override;
  Result<net::Uri> TargetUri() const override;
  Result<void> Remove(const ProviderEvent& event) override;
  ProviderDescription Describe() const override;

 private:
  std::optional<std::string> State(std::string_view key) const;
  std::string Password() const;  // from local.password_env, or ""

  const Spec& spec_;
  Journal* journal_;
};

// `provider: external`, a server the operator runs.
class ExternalProvider : public Provider {
 public:
  // `journal` may be null (plan, which only describes).
  ExternalProvider(const Spec& spec, Journal* journal) : spec_(spec), journal_(journal) {}

  ProviderKind kind() const override { return ProviderKind::kExternal; }
  Result<void> Provision(const ProviderEvent& event) override;
  // Nothing to confirm: the operator owns the server (never replaced).
  Result<bool> ConfirmOrReplace(const ProviderEvent& event) override;
  Result<void> ConfirmAfterCutover() override;
  // target.external.uri with target.external.user and the password from its password_env.
  Result<net::Uri> TargetUri() const override;
  Result<void> Remove(const ProviderEvent& event) override;
  ProviderDescription Describe() const override;

 private:
  bool Written() const;  // the journal's target.written

  const Spec& spec_;
  Journal* journal_;
};

// What keeps the external cluster at `seed` from being a target, in words ("" when
// nothing): cluster_state not ok, slots no node serves, slot migrations in progress (named),
// and with must_be_empty a primary that holds keys. doctor and PROVISION share it.
std::string ExternalClusterProblem(const net::Uri& seed, bool must_be_empty);

// After a local provider started a valkey-server from `binary`: the server answering at
// `uri` must be the engine and version the spec asks for (PREFLIGHT asked the binary; a
// wrapper script or a PATH change in between would otherwise go unnoticed).
// ControlErrc::kProvisionFailed otherwise; `started` names it ("the started server on port
// 7000"). Failing rolls back, which removes what was started.
Result<void> ConfirmStartedEngine(const Spec& spec, const net::Uri& uri, const std::string& started,
                                  const std::string& binary);

// The provider of spec.target.provider. `spec` and `journal` must outlive it; `journal`
// may be null only for Describe() and TargetUri().
std::unique_ptr<Provider> MakeProvider(const Spec& spec, Journal* journal);

}  // namespace kf::control
