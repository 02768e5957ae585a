// Error codes of the verify layer (comparing a source with a target). An error means the
// comparison could not be completed; differences found are not errors (they are the
// report).
#pragma once

#include <system_error>

namespace kf::verify {

enum class VerifyErrc {
  kBadOption = 1,    // an option value that cannot be used
  kUnreachable,      // an end cannot be connected to or refused the login
  kConnectionLost,   // an end stopped answering in the middle of the compare
  kServerError,      // an end answered a read with an error the compare cannot go past
  kUnexpectedReply,  // a reply of a shape the compare does not understand
  kStopped,          // stopped on request before finishing
};

const std::error_category& VerifyCategory();
inline std::error_code make_error_code(VerifyErrc e) {
  return {static_cast<int>(e), VerifyCategory()};
}

}  // namespace kf::verify

template <>
struct std::is_error_code_enum<kf::verify::VerifyErrc> : std::true_type {};
