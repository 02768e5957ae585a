// The sync error category.
#include "sync/sync_errc.h"

#include <string>

namespace kf::sync {
namespace {

class SyncCategoryImpl : public std::error_category {
 public:
  const char* name() const noexcept override { return "sync"; }
  std::string message(int code) const override {
    switch (static_cast<SyncErrc>(code)) {
      case SyncErrc::kBadOption:
        return "bad option";
      case SyncErrc::kCheckpoint:
        return "checkpoint file error";
      case SyncErrc::kUnsupportedData:
        return "data the target cannot hold";
      case SyncErrc::kTargetRejected:
        return "the target rejected a write";
      case SyncErrc::kTargetNotEmpty:
        return "the target is not empty";
      case SyncErrc::kFilterSplit:
        return "a command mixes filtered and unfiltered keys";
      case SyncErrc::kStopped:
        return "stopped";
      case SyncErrc::kTargetNotOurs:
        return "the target is not the one this sync wrote";
      case SyncErrc::kTargetDropped:
        return "the target dropped keys it was given";
      case SyncErrc::kKeysUnknown:
        return "the keys of a command cannot be told";
      case SyncErrc::kCrossSlot:
        return "a command's keys lie in several hash slots";
      case SyncErrc::kNotRoutable:
        return "a command cannot be routed to a cluster by slot";
      case SyncErrc::kClusterNotReady:
        return "the source cluster cannot be copied as it stands";
      case SyncErrc::kSourceChanged:
        return "the source changed in a way the live sync cannot follow";
    }
    return "sync error";
  }
};

}  // namespace

const std::error_category& SyncCategory() {
  static SyncCategoryImpl category;
  return category;
}

}  // namespace kf::sync
