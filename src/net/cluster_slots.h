// Redis Cluster key → hash slot: CRC16 (XMODEM) of the key, or of its hash tag, modulo
// 16384. Pure functions, no IO.
//
// The hash tag rule, as Redis and Valkey apply it: find the first '{' in the key, then the
// first '}' after it; when at least one byte lies between them, only those bytes are
// hashed, otherwise (no '{', no '}' after it, or "{}") the whole key is. So
// "{user1000}.following" hashes "user1000", "foo{}{bar}" hashes the whole key, and
// "foo{{bar}}zap" hashes "{bar".
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace kf::net {

inline constexpr int kClusterSlotCount = 16384;

// CRC-16/XMODEM: polynomial 0x1021, initial value 0, no reflection, no final xor. The
// check value of "123456789" is 0x31C3.
uint16_t Crc16Xmodem(std::span<const uint8_t> bytes);
uint16_t Crc16Xmodem(std::string_view bytes);

// The part of `key` that decides its slot: the hash tag's content, or the whole key.
std::string_view KeyHashPart(std::string_view key);

// The hash slot of `key`, in [0, 16383].
int KeySlot(std::string_view key);

// The one slot that every key a glob-style pattern (SCAN MATCH, SORT BY/GET) can produce
// lies in, or -1 when the pattern may reach keys of several slots. As the servers decide
// it: a pattern without wildcard ('*', '?', '[') and escape ('\\') is one key, and hashes
// as KeySlot does; otherwise the slot is known only when a non-empty hash tag closes before
// the first wildcard or escape ("{user1}:*" is the slot of "user1"; "*{user1}" is -1).
int PatternSlot(std::string_view pattern);

}  // namespace kf::net
