// CRC16/XMODEM with a 256-entry table built at compile time, and the hash tag rule.
#include "net/cluster_slots.h"

#include <array>

namespace kf::net {
namespace {

// Entry i is the CRC of the single byte i, shifted through the polynomial eight times
// (MSB first, as XMODEM is not reflected).
constexpr std::array<uint16_t, 256> MakeCrc16Table() {
  std::array<uint16_t, 256> table{};
  for (int i = 0; i < 256; ++i) {
    uint16_t crc = static_cast<uint16_t>(i << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
    table[static_cast<size_t>(i)] = crc;
  }
  return table;
}

constexpr std::array<uint16_t, 256> kCrc16Table = MakeCrc16Table();

}  // namespace

uint16_t Crc16Xmodem(std::span<const uint8_t> bytes) {
  uint16_t crc = 0;
  for (uint8_t b : bytes) {
    crc = static_cast<uint16_t>((crc << 8) ^ kCrc16Table[((crc >> 8) ^ b) & 0xff]);
  }
  return crc;
}

uint16_t Crc16Xmodem(std::string_view bytes) {
  return Crc16Xmodem(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

std::string_view KeyHashPart(std::string_view key) {
  size_t open = key.find('{');
  if (open == std::string_view::npos) return key;
  size_t close = key.find('}', open + 1);
  // No closing brace, or nothing between the braces: the whole key is hashed.
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

int KeySlot(std::string_view key) {
  // 16384 is a power of two: the modulo keeps the low 14 bits.
  return Crc16Xmodem(KeyHashPart(key)) & (kClusterSlotCount - 1);
}

int PatternSlot(std::string_view pattern) {
  // The bytes that decide the slot: up to the end of the hash tag, or the whole pattern when
  // it has none. A wildcard or escape there leaves the hashed bytes unknown.
  std::string_view deciding = pattern;
  std::string_view part = KeyHashPart(pattern);
  if (part.size() != pattern.size()) {
    const size_t tag_end = static_cast<size_t>(part.data() - pattern.data()) + part.size();
    deciding = pattern.substr(0, tag_end + 1);  // through the closing '}'
  }
  if (deciding.find_first_of("*?[\\") != std::string_view::npos) return -1;
  return KeySlot(pattern);
}

}  // namespace kf::net
