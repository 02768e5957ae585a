// Reading what a server says about itself: fields of INFO text, and the RDB version a
// server of that engine and version reads and writes (DESIGN.md §4).
#pragma once

#include <string>
#include <string_view>

namespace kf::net {

// The value of `field` in INFO text ("role" → "master"), or "" when absent.
std::string InfoField(std::string_view info, std::string_view field);

// The RDB version of the server whose INFO server text is given: Valkey 7.2–8.x 11,
// Valkey 9+ 80; Redis 6.x and older 9, 7.0 10, 7.2 11, 7.4–8.4 12, 8.6 13, newer 14.
int ServerRdbVersion(std::string_view info_server);

}  // namespace kf::net
