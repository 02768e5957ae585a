// Helpers shared by the RDB tests (unit and integration): fixture loading and line
// comparison, feeding in chunks, and a small builder of synthetic RDB files.
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "rdb/crc64.h"
#include "rdb/reader.h"

namespace kf::rdb::testing {

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string FixturePath(const std::string& stem, const std::string& ext) {
  return std::string(KF_FIXTURES_DIR) + "/rdb/" + stem + ext;
}

inline const std::vector<std::string>& FixtureStems() {
  static const std::vector<std::string> stems = {
      "redis-6.2-base", "redis-7.0-base",    "redis-7.2-base",  "redis-7.4-base",
      "redis-7.4-hfe",  "redis-8.0m01-base", "valkey-8.0-base", "valkey-8.1dev-base"};
  return stems;
}

inline std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  return out;
}

// Compares lines with a fixture's .jsonl lines byte for byte; returns "" or the first
// difference.
inline std::string CompareFixtureLines(const std::string& stem,
                                       const std::vector<std::string>& got) {
  const auto want = SplitLines(ReadFileBytes(FixturePath(stem, ".jsonl")));
  for (size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
    if (i >= got.size()) {
      return stem + ": missing line " + std::to_string(i + 1) + ": " + want[i].substr(0, 200);
    }
    if (i >= want.size()) {
      return stem + ": extra line " + std::to_string(i + 1) + ": " + got[i].substr(0, 200);
    }
    if (got[i] != want[i]) {
      size_t j = 0;
      while (j < got[i].size() && j < want[i].size() && got[i][j] == want[i][j]) ++j;
      const size_t from = j > 60 ? j - 60 : 0;
      return stem + ": line " + std::to_string(i + 1) + " differs at column " + std::to_string(j) +
             "\n  got:  ..." + got[i].substr(from, 160) + "\n  want: ..." +
             want[i].substr(from, 160);
    }
  }
  return "";
}

// Feeds `data` in pieces whose sizes come from `next_size` (each >= 1), then Finish().
inline Result<void> FeedInPieces(RdbReader& reader, std::string_view data,
                                 const std::function<size_t()>& next_size) {
  size_t at = 0;
  while (at < data.size()) {
    size_t n = std::min(next_size(), data.size() - at);
    auto r = reader.Feed(AsBytes(data.substr(at, n)));
    if (!r) return r;
    at += n;
  }
  return reader.Finish();
}

inline Result<void> FeedWhole(RdbReader& reader, std::string_view data) {
  auto r = reader.Feed(AsBytes(data));
  if (!r) return r;
  return reader.Finish();
}

// RDB length encoding.
inline std::string Len(uint64_t n) {
  std::string s;
  if (n < 64) {
    s.push_back(static_cast<char>(n));
  } else if (n < 16384) {
    s.push_back(static_cast<char>(0x40 | (n >> 8)));
    s.push_back(static_cast<char>(n & 0xff));
  } else if (n <= 0xffffffffULL) {
    s.push_back(static_cast<char>(0x80));
    for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  } else {
    s.push_back(static_cast<char>(0x81));
    for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  }
  return s;
}
inline std::string Str(std::string_view v) { return Len(v.size()) + std::string(v); }
inline std::string Le(uint64_t v, int bytes) {
  std::string s;
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

// A whole file: header + body + EOF + CRC64 (checksum 0 when crc == false).
inline std::string MakeRdb(const std::string& body, const std::string& header = "REDIS0011",
                           bool crc = true) {
  std::string s = header + body + "\xff";
  uint64_t c = crc ? Crc64(0, AsBytes(s)) : 0;
  return s + Le(c, 8);
}

// A DUMP payload: serialized value + version + CRC64.
inline std::string MakeDump(const std::string& value, int version) {
  std::string s = value + Le(static_cast<uint64_t>(version), 2);
  return s + Le(Crc64(0, AsBytes(s)), 8);
}

// Lowercase hex of a string.
inline std::string Hex(std::string_view s) { return HexEncode(AsBytes(s)); }

}  // namespace kf::rdb::testing
