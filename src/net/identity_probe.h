// Asking a server who it is: INFO server over a short connection of its own, parsed into
// a ServerIdentity (engine, version, run id; see server_info.h).
//
// Used before anything is written, to refuse a source and a target that are one server
// (keyferry sync / verify / plan / doctor / apply) and a target that is not the engine or
// version the operator asked for.
#pragma once

#include "common/result.h"
#include "net/client.h"
#include "net/server_info.h"
#include "net/uri.h"

namespace kf::net {

// Connects to `uri` (logging in as it says), sends INFO server and parses the reply. Errors:
// the connection's (unreachable, refused login...), or kServerError when INFO is refused.
Result<ServerIdentity> ReadServerIdentity(const Uri& uri, const ClientOptions& options = {});

// "the source X and the target Y are the same server (both report run_id R)": names both
// as given and the run id that gave it away; the caller says what that would have broken.
std::string SameServerMessage(const Uri& source, const Uri& target, const ServerIdentity& id);

// "the source X is a node of a cluster (redis_mode:cluster) ...": why a cluster node cannot
// be a source or a target of this version (it would copy, or take, only the slots of that
// one node); `end` is "source" or "target". The caller says what was (not) done and what to
// point the end at instead.
std::string ClusterNodeMessage(const Uri& uri, std::string_view end);

}  // namespace kf::net
