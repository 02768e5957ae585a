// Applied-offset marker: text encoding and parsing (see applied_marker.h).
#include "target/applied_marker.h"

#include <charconv>
#include <random>
#include <vector>

namespace kf::target {
namespace {

constexpr std::string_view kMagic = "keyferry-marker";

bool IsHex(std::string_view s, size_t len) {
  if (s.size() != len) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string ShardMarkerKey(std::string_view shard) {
  return std::string(kAppliedMarkerKey) + ":" + std::string(shard);
}

bool IsAppliedMarkerKey(std::string_view key) {
  if (!key.starts_with(kAppliedMarkerKey)) return false;
  return key.size() == kAppliedMarkerKey.size() || key[kAppliedMarkerKey.size()] == ':';
}

std::string ShardMarkerPattern() { return std::string(kAppliedMarkerKey) + ":*"; }

std::string EncodeMarker(const AppliedMarker& marker) {
  return std::string(kMagic) + " 1 " + marker.id + " " +
         (marker.state == MarkerState::kStream ? "stream" : "snapshot") + " " + marker.replid +
         " " + std::to_string(marker.offset) + " " + std::to_string(marker.db);
}

std::optional<AppliedMarker> ParseMarker(std::string_view text) {
  std::vector<std::string_view> words;
  size_t at = 0;
  while (at <= text.size()) {
    size_t space = text.find(' ', at);
    if (space == std::string_view::npos) space = text.size();
    words.push_back(text.substr(at, space - at));
    at = space + 1;
  }
  if (words.size() != 7 || words[0] != kMagic || words[1] != "1") return std::nullopt;
  AppliedMarker m;
  if (!IsHex(words[2], 32)) return std::nullopt;
  m.id = std::string(words[2]);
  if (words[3] == "stream") {
    m.state = MarkerState::kStream;
  } else if (words[3] == "snapshot") {
    m.state = MarkerState::kSnapshot;
  } else {
    return std::nullopt;
  }
  if (!IsHex(words[4], 40)) return std::nullopt;
  m.replid = std::string(words[4]);
  if (!ParseNumber(words[5], &m.offset) || m.offset < -1) return std::nullopt;
  if (!ParseNumber(words[6], &m.db) || m.db < 0) return std::nullopt;
  return m;
}

std::string NewMigrationId() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (char& c : id) c = kHex[rng() & 15];
  return id;
}

}  // namespace kf::target
