// Applied-offset marker: text encoding and parsing (see applied_marker.h).
#include "target/applied_marker.h"

#include <charconv>
#include <random>
#include <vector>

#include "net/cluster_slots.h"

namespace kf::target {
namespace {

constexpr std::string_view kMagic = "keyferry-marker";

std::vector<std::string_view> Words(std::string_view text) {
  std::vector<std::string_view> words;
  size_t at = 0;
  while (at <= text.size()) {
    size_t space = text.find(' ', at);
    if (space == std::string_view::npos) space = text.size();
    words.push_back(text.substr(at, space - at));
    at = space + 1;
  }
  return words;
}

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
  return key.size() == kAppliedMarkerKey.size() || key[kAppliedMarkerKey.size()] == ':' ||
         SlotOfMarkerKey(key) >= 0;
}

std::string ShardMarkerPattern() { return std::string(kAppliedMarkerKey) + ":*"; }

std::string EncodeMarker(const AppliedMarker& marker) {
  return std::string(kMagic) + " 1 " + marker.id + " " +
         (marker.state == MarkerState::kStream ? "stream" : "snapshot") + " " + marker.replid +
         " " + std::to_string(marker.offset) + " " + std::to_string(marker.db);
}

std::optional<AppliedMarker> ParseMarker(std::string_view text) {
  auto words = Words(text);
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

namespace {

constexpr std::string_view kSlotMagic = "keyferry-slot-marker";

// tags[slot]: the shortest decimal number (then the smallest) whose CRC16 lands in `slot`.
const std::vector<std::string>& SlotTags() {
  static const std::vector<std::string> tags = [] {
    std::vector<std::string> t(net::kClusterSlotCount);
    size_t filled = 0;
    for (uint64_t n = 0; filled < t.size(); ++n) {
      std::string s = std::to_string(n);
      int slot = net::KeySlot(s);
      if (t[static_cast<size_t>(slot)].empty()) {
        t[static_cast<size_t>(slot)] = std::move(s);
        ++filled;
      }
    }
    return t;
  }();
  return tags;
}

}  // namespace

std::string SlotMarkerKey(int slot) {
  return std::string(kAppliedMarkerKey) + "{" + SlotTags()[static_cast<size_t>(slot)] + "}";
}

int SlotOfMarkerKey(std::string_view key) {
  if (!key.starts_with(kAppliedMarkerKey)) return -1;
  std::string_view rest = key.substr(kAppliedMarkerKey.size());
  if (rest.size() < 3 || rest.front() != '{' || rest.back() != '}') return -1;
  int slot = net::KeySlot(key);
  return SlotMarkerKey(slot) == key ? slot : -1;
}

std::string EncodeSlotMarker(const SlotMarker& m) {
  return std::string(kSlotMagic) + " 1 " + m.id + " " + m.replid + " " + std::to_string(m.offset) +
         " " + std::to_string(m.floor) + " " + std::to_string(m.floor_db) + " " +
         std::to_string(m.db);
}

std::optional<SlotMarker> ParseSlotMarker(std::string_view text) {
  auto words = Words(text);
  if (words.size() != 8 || words[0] != kSlotMagic || words[1] != "1") return std::nullopt;
  SlotMarker m;
  if (!IsHex(words[2], 32) || !IsHex(words[3], 40)) return std::nullopt;
  m.id = std::string(words[2]);
  m.replid = std::string(words[3]);
  if (!ParseNumber(words[4], &m.offset) || m.offset < 0) return std::nullopt;
  if (!ParseNumber(words[5], &m.floor) || m.floor < -1 || m.floor > m.offset) return std::nullopt;
  if (!ParseNumber(words[6], &m.floor_db) || m.floor_db < 0) return std::nullopt;
  if (!ParseNumber(words[7], &m.db) || m.db < 0) return std::nullopt;
  return m;
}

ClusterResume ResumeFromMarkers(const std::optional<AppliedMarker>& head,
                                const std::vector<SlotMarker>& slot_markers) {
  ClusterResume r;
  r.slot_applied.assign(net::kClusterSlotCount, -1);
  std::string id = head ? head->id : (slot_markers.empty() ? "" : slot_markers.front().id);
  for (const auto& m : slot_markers) {
    if (m.id != id) {
      r.foreign = "the marker of slot " + std::to_string(m.slot) + " was written by sync " + m.id +
                  ", the target's other markers by sync " + id;
      return r;
    }
  }
  if (head && head->state == MarkerState::kSnapshot) {
    r.marker = head;
    return r;
  }
  if (!head && slot_markers.empty()) return r;
  AppliedMarker resume;
  resume.id = id;
  resume.state = MarkerState::kStream;
  if (head) resume = *head;
  for (const auto& m : slot_markers) {
    if (m.slot >= 0 && m.slot < net::kClusterSlotCount) {
      r.slot_applied[static_cast<size_t>(m.slot)] = m.offset;
    }
    if (resume.replid.empty() || m.floor > resume.offset) {
      resume.offset = std::max(resume.offset, m.floor);
      resume.replid = m.replid;
      resume.db = m.floor_db;
    }
  }
  r.marker = resume;
  return r;
}

}  // namespace kf::target
