// Strict decimal parsing for RESP headers and scalars. Internal to src/resp.
#pragma once

#include <cstdint>
#include <string_view>

namespace kf::resp {

enum class IntParse { kOk, kNotANumber, kOutOfRange };

// "-"? digit+, nothing else (no '+', no spaces), within int64.
IntParse ParseInt64(std::string_view s, int64_t* out);

// RESP3 double: "inf", "-inf", "+inf", "nan", "-nan", or "[+-]digits[.digits][e[+-]digits]".
bool ParseRespDouble(std::string_view s, double* out);

}  // namespace kf::resp
