// The std::error_category of ControlErrc.
#include "control/control_errc.h"

#include <string>

namespace kf::control {
namespace {

class ControlCategoryImpl : public std::error_category {
 public:
  const char* name() const noexcept override { return "control"; }
  std::string message(int code) const override {
    switch (static_cast<ControlErrc>(code)) {
      case ControlErrc::kSpecUnreadable:
        return "spec file cannot be read";
      case ControlErrc::kSpecSyntax:
        return "spec is not valid YAML";
      case ControlErrc::kSpecInvalid:
        return "invalid spec";
      case ControlErrc::kSpecUnsupported:
        return "spec asks for something not supported yet";
      case ControlErrc::kSpecChanged:
        return "spec changed under a running migration";
      case ControlErrc::kEnvMissing:
        return "password environment variable not set";
      case ControlErrc::kJournalMissing:
        return "no journal in the state dir";
      case ControlErrc::kJournalIo:
        return "journal I/O error";
      case ControlErrc::kJournalCorrupt:
        return "journal content not readable";
      case ControlErrc::kLocked:
        return "another apply holds the state dir";
      case ControlErrc::kPreflightFailed:
        return "preflight check failed";
      case ControlErrc::kProvisionFailed:
        return "provisioning the target failed";
      case ControlErrc::kPhaseFailed:
        return "migration phase failed";
      case ControlErrc::kHookFailed:
        return "cutover hook failed";
      case ControlErrc::kVerifyMismatch:
        return "source and target differ";
      case ControlErrc::kRefused:
        return "refused";
      case ControlErrc::kAborted:
        return "aborted";
      case ControlErrc::kDeclined:
        return "declined by the operator";
    }
    return "control error";
  }
};

}  // namespace

const std::error_category& ControlCategory() {
  static ControlCategoryImpl category;
  return category;
}

}  // namespace kf::control
