// INFO server over a short connection: see identity_probe.h.
#include "net/identity_probe.h"

#include "net/errc.h"

namespace kf::net {

Result<ServerIdentity> ReadServerIdentity(const Uri& uri, const ClientOptions& options) {
  Client client;
  KF_RETURN_IF_ERROR(client.Connect(uri, options));
  auto info = client.Call({"INFO", "server"});
  if (!info) return MakeError(std::move(info).error());
  if (info->is_error()) {
    return MakeError(NetErrc::kServerError,
                     uri.Endpoint() + " refused INFO server: " + info->str());
  }
  return ParseServerIdentity(info->str());
}

std::string SameServerMessage(const Uri& source, const Uri& target, const ServerIdentity& id) {
  std::string a = source.ToString();
  std::string b = target.ToString();
  return "the source " + a + " and the target " + b + " are the same server (both report run_id " +
         id.run_id + (a == b ? std::string(")") : "; only the spelling differs)");
}

std::string ClusterNodeMessage(const Uri& uri, std::string_view end) {
  std::string what =
      end == "source"
          ? "a sync from it would copy only the slots that one node serves and miss every other "
            "shard's keys"
          : "it takes only the keys of its own slots and answers MOVED for the others";
  return "the " + std::string(end) + " " + uri.Endpoint() +
         " is a node of a Redis/Valkey Cluster (INFO server says cluster mode); this keyferry "
         "migrates standalone servers only (cluster support is not built yet): " +
         what;
}

}  // namespace kf::net
