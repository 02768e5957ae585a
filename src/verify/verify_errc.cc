// The verify error category.
#include "verify/verify_errc.h"

#include <string>

namespace kf::verify {
namespace {

class VerifyCategoryImpl : public std::error_category {
 public:
  const char* name() const noexcept override { return "verify"; }
  std::string message(int code) const override {
    switch (static_cast<VerifyErrc>(code)) {
      case VerifyErrc::kBadOption:
        return "bad option";
      case VerifyErrc::kUnreachable:
        return "an end cannot be reached or refused the login";
      case VerifyErrc::kConnectionLost:
        return "the connection to an end was lost during the compare";
      case VerifyErrc::kServerError:
        return "an end answered a read with an error";
      case VerifyErrc::kUnexpectedReply:
        return "an end sent a reply of an unexpected shape";
      case VerifyErrc::kStopped:
        return "stopped before finishing";
    }
    return "verify error";
  }
};

}  // namespace

const std::error_category& VerifyCategory() {
  static VerifyCategoryImpl category;
  return category;
}

}  // namespace kf::verify
