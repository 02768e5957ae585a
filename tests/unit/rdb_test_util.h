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

// The fixture whose .jsonl was written from PTTL readings: every line carries
// "expire_approx":true and 14 of its 295 expiries are 1 ms above the value in the .rdb
// (see docs/rdb.md, "The Redis 6.2 fixture").
inline constexpr std::string_view kApproxExpiryStem = "redis-6.2-base";

// Whether `got` equals the fixture line `want` byte for byte. With `approx_expiry` (the
// Redis 6.2 fixture only), the "expire_approx":true marker is removed from `want` first,
// and expire_ms may then differ by at most 1 ms (both sides having an expiry); every
// other byte must still be equal. `*approx_used` (if given) is set when the 1 ms
// allowance was needed.
inline bool FixtureLineMatches(const std::string& got, std::string want, bool approx_expiry,
                               bool* approx_used = nullptr) {
  if (approx_used != nullptr) *approx_used = false;
  static const std::string kApprox = "\"expire_approx\":true,";
  if (!approx_expiry) return got == want;
  const size_t a = want.find(kApprox);
  if (a == std::string::npos) return false;  // every line of that fixture has the marker
  want.erase(a, kApprox.size());
  if (got == want) return true;
  static const std::string kKey = "\"expire_ms\":";
  auto field = [](const std::string& line, size_t* from, size_t* to) -> long long {
    const size_t p = line.find(kKey);
    if (p == std::string::npos) return -1;
    *from = p + kKey.size();
    *to = line.find(',', *from);
    return std::stoll(line.substr(*from, *to - *from));
  };
  size_t gf = 0, gt = 0, wf = 0, wt = 0;
  const long long ge = field(got, &gf, &gt), we = field(want, &wf, &wt);
  if (ge < 0 || we < 0 || (ge - we != 1 && we - ge != 1)) return false;
  if (got.substr(0, gf) != want.substr(0, wf) || got.substr(gt) != want.substr(wt)) return false;
  if (approx_used != nullptr) *approx_used = true;
  return true;
}

// Compares lines with a fixture's .jsonl lines; returns "" or the first difference.
// `approx_lines` (if given) counts the lines that needed the 6.2 expiry allowance.
inline std::string CompareFixtureLines(const std::string& stem, const std::vector<std::string>& got,
                                       size_t* approx_lines = nullptr) {
  const auto want = SplitLines(ReadFileBytes(FixturePath(stem, ".jsonl")));
  const bool approx = stem == kApproxExpiryStem;
  if (approx_lines != nullptr) *approx_lines = 0;
  for (size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
    if (i >= got.size()) {
      return stem + ": missing line " + std::to_string(i + 1) + ": " + want[i].substr(0, 200);
    }
    if (i >= want.size()) {
      return stem + ": extra line " + std::to_string(i + 1) + ": " + got[i].substr(0, 200);
    }
    bool used = false;
    if (!FixtureLineMatches(got[i], want[i], approx, &used)) {
      size_t j = 0;
      while (j < got[i].size() && j < want[i].size() && got[i][j] == want[i][j]) ++j;
      const size_t from = j > 60 ? j - 60 : 0;
      return stem + ": line " + std::to_string(i + 1) + " differs at column " + std::to_string(j) +
             "\n  got:  ..." + got[i].substr(from, 160) + "\n  want: ..." +
             want[i].substr(from, 160);
    }
    if (used && approx_lines != nullptr) ++*approx_lines;
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
