// The std::error_category of ClusterErrc.
#include "net/cluster_errc.h"

#include <string>

namespace kf::net {
namespace {

class ClusterCategoryImpl : public std::error_category {
 public:
  const char* name() const noexcept override { return "cluster"; }
  std::string message(int code) const override {
    switch (static_cast<ClusterErrc>(code)) {
      case ClusterErrc::kBadReply:
        return "bad cluster topology reply";
      case ClusterErrc::kCommandRefused:
        return "cluster command refused";
    }
    return "unknown cluster error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& ClusterCategory() {
  static const ClusterCategoryImpl category;
  return category;
}

}  // namespace kf::net
