// Reply checking for target writes, and the target error category.
#include "target/write_op.h"

#include "target/target_errc.h"

namespace kf::target {
namespace {

class TargetCategoryImpl : public std::error_category {
 public:
  const char* name() const noexcept override { return "target"; }
  std::string message(int code) const override {
    switch (static_cast<TargetErrc>(code)) {
      case TargetErrc::kRejected:
        return "the target rejected a write";
      case TargetErrc::kOutOfMemory:
        return "the target is out of memory";
      case TargetErrc::kLinkFailed:
        return "a target connection failed";
      case TargetErrc::kStopped:
        return "the target writer stopped";
      case TargetErrc::kRedirected:
        return "a cluster target redirected a write";
      case TargetErrc::kForeignMarker:
        return "the target holds a key keyferry reserves for its marker";
    }
    return "target error";
  }
};

}  // namespace

const std::error_category& TargetCategory() {
  static TargetCategoryImpl category;
  return category;
}

bool IsClusterRedirect(std::string_view error_text) {
  return error_text.starts_with("MOVED ") || error_text.starts_with("ASK ") ||
         error_text.starts_with("TRYAGAIN") || error_text.starts_with("CLUSTERDOWN");
}

Result<void> CheckReply(const resp::Reply& reply, const std::string& description,
                        const std::string& target_endpoint) {
  if (reply.type() == resp::ReplyType::kArray) {  // EXEC: every queued command's reply
    for (const auto& element : reply.children()) {
      auto ok = CheckReply(element, description, target_endpoint);
      if (!ok) return ok;
    }
    return {};
  }
  if (!reply.is_error()) return {};
  const std::string& text = reply.str();
  if (text.starts_with("OOM")) {
    return MakeError(TargetErrc::kOutOfMemory,
                     "the target " + target_endpoint + " is out of memory (\"" + text +
                         "\") while writing " + description +
                         "; raise maxmemory on the target (or free memory) and run the sync "
                         "again: nothing after this write was applied");
  }
  if (IsClusterRedirect(text)) {
    return MakeError(TargetErrc::kRedirected, "the cluster target " + target_endpoint +
                                                  " answered \"" + text + "\" to " + description +
                                                  ": its slots moved while keyferry wrote");
  }
  std::string hint = "; the target's state now differs from the source, so the sync stops";
  if (text.find("payload version or checksum") != std::string::npos ||
      text.find("Bad data format") != std::string::npos) {
    hint =
        "; the target cannot load this value's encoding — report it with the source and "
        "target versions (keyferry should have transcoded it)";
  }
  return MakeError(TargetErrc::kRejected, "the target " + target_endpoint + " refused " +
                                              description + ": \"" + text + "\"" + hint);
}

}  // namespace kf::target
