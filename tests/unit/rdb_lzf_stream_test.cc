// The streaming LZF decoder (rdb/lzf_codec.h) against whole-buffer decompression (liblzf):
// data compressed the way the server does (RdbWriter with compression), decoded from
// input split into 1-byte, 7-byte and random pieces with output bounds of 1 byte up to
// unbounded; back-references at the farthest distance (8 KiB) and long overlapping runs;
// and bad input: a reference before the start, output longer or shorter than announced,
// input ending inside an instruction.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "rdb/lzf_codec.h"
#include "rdb/rdb_errc.h"
#include "rdb/rdb_format.h"
#include "rdb/rdb_writer.h"

namespace kf::rdb {
namespace {

// The LZF data of `s` as the server would save it (rdbcompression yes); fails the test when
// the server would not compress it.
std::string Compress(const std::string& s) {
  RdbWriter w(/*compress_strings=*/true);
  w.WriteString(s);
  Bytes b = w.Take();
  const uint8_t* p = b.data();
  const uint8_t* end = b.data() + b.size();
  uint64_t v = 0, clen = 0, len = 0;
  bool special = false;
  size_t used = 0;
  EXPECT_EQ(DecodeLength(p, end, &v, &special, &used), Parse::kOk);
  EXPECT_TRUE(special && v == 3) << "not LZF-compressed";
  p += used;
  EXPECT_EQ(DecodeLength(p, end, &clen, &special, &used), Parse::kOk);
  p += used;
  EXPECT_EQ(DecodeLength(p, end, &len, &special, &used), Parse::kOk);
  p += used;
  EXPECT_EQ(len, s.size());
  EXPECT_EQ(clen, static_cast<uint64_t>(end - p));
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(end - p));
}

std::string RandomBytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Inputs that exercise every instruction form.
std::vector<std::pair<std::string, std::string>> Samples() {
  std::mt19937 rng(7);
  std::vector<std::pair<std::string, std::string>> out;
  std::string text;
  for (int i = 0; text.size() < 200000; ++i) {
    text += "line " + std::to_string(i * 7919 % 1000) + ": keyferry streams big values\n";
  }
  out.emplace_back("text", text);
  // Distance 1, the longest references (264 bytes), overlapping their own output.
  out.emplace_back("runs", std::string(100000, 'a') + "xyz" + std::string(70000, 'b') + "tail");
  // A random block repeated at distances 8190, 8191 and 8192 (the farthest LZF reaches).
  std::string far;
  for (size_t block : {8190u, 8191u, 8192u}) {
    std::string b = RandomBytes(rng, block);
    far += b + b + b;
  }
  out.emplace_back("far", far);
  // Random literals mixed with copies from random earlier positions within the window.
  std::string mixed = RandomBytes(rng, 64);
  while (mixed.size() < 300000) {
    if (rng() % 3 == 0) {
      mixed += RandomBytes(rng, 1 + rng() % 40);
    } else {
      size_t back = 1 + rng() % std::min<size_t>(mixed.size(), 8192);
      size_t len = 3 + rng() % 300;
      size_t from = mixed.size() - back;
      for (size_t i = 0; i < len; ++i) mixed.push_back(mixed[from + i]);
    }
  }
  out.emplace_back("mixed", mixed);
  return out;
}

// Streams `compressed` through the decoder: input pieces from `next_in`, output bound per
// call from `next_out`. Returns the output, or "ERROR: ..." on the first error.
std::string Stream(const std::string& compressed, uint64_t expected,
                   const std::function<size_t()>& next_in,
                   const std::function<size_t()>& next_out) {
  LzfStreamDecoder d(expected);
  std::string out;
  size_t at = 0;
  size_t calls = 0;
  while (at < compressed.size() || d.pending_output()) {
    size_t n = std::min(next_in(), compressed.size() - at);
    auto used = d.Decode(AsBytes(std::string_view(compressed).substr(at, n)), next_out(), &out);
    if (!used) return "ERROR: " + used.error().message;
    if (*used > n) return "ERROR: consumed more than given";
    at += *used;
    if (++calls > 100'000'000) return "ERROR: no progress";
  }
  auto finished = d.Finish();
  if (!finished) return "ERROR: " + finished.error().message;
  if (d.produced() != out.size()) return "ERROR: produced() disagrees with the output";
  return out;
}

TEST(LzfStreamTest, MatchesWholeBufferDecompressionOnAnySplit) {
  for (const auto& [name, plain] : Samples()) {
    SCOPED_TRACE(name);
    std::string c = Compress(plain);
    ASSERT_FALSE(HasFailure());
    ASSERT_LT(c.size(), plain.size());
    std::string whole;
    ASSERT_TRUE(LzfDecompress(AsBytes(c), plain.size(), plain.size(), &whole).has_value());
    ASSERT_EQ(whole, plain);
    const size_t unbounded = size_t{1} << 40;
    auto one = [] { return size_t{1}; };
    auto seven = [] { return size_t{7}; };
    auto all = [&] { return unbounded; };
    EXPECT_TRUE(Stream(c, plain.size(), all, all) == whole) << "whole input";
    EXPECT_TRUE(Stream(c, plain.size(), one, all) == whole) << "1-byte input";
    EXPECT_TRUE(Stream(c, plain.size(), seven, all) == whole) << "7-byte input";
    EXPECT_TRUE(Stream(c, plain.size(), all, one) == whole) << "1-byte output";
    EXPECT_TRUE(Stream(c, plain.size(), seven, seven) == whole) << "7-byte input and output";
    for (uint32_t seed : {1u, 2u, 3u}) {
      std::mt19937 rng(seed);
      std::uniform_int_distribution<size_t> in(1, 5000), out(1, 70000);
      EXPECT_TRUE(Stream(
                      c, plain.size(), [&] { return in(rng); }, [&] { return out(rng); }) == whole)
          << "random splits, seed " << seed;
    }
  }
}

TEST(LzfStreamTest, OutputBoundIsKeptAndResumedInsideAReference) {
  // 'a' x 1000: one literal, then references of up to 264 bytes at distance 1.
  std::string plain(1000, 'a');
  std::string c = Compress(plain);
  LzfStreamDecoder d(plain.size());
  std::string out;
  auto used = d.Decode(AsBytes(c), 100, &out);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(out.size(), 100u);
  EXPECT_TRUE(d.pending_output() || *used < c.size());
  size_t at = *used;
  while (at < c.size() || d.pending_output()) {
    size_t before = out.size();
    auto u = d.Decode(AsBytes(std::string_view(c).substr(at)), 100, &out);
    ASSERT_TRUE(u.has_value()) << u.error().message;
    EXPECT_LE(out.size() - before, 100u);
    at += *u;
  }
  ASSERT_TRUE(d.Finish().has_value());
  EXPECT_EQ(out, plain);
}

Result<void> DecodeAll(const std::string& c, uint64_t expected) {
  LzfStreamDecoder d(expected);
  std::string out;
  auto used = d.Decode(AsBytes(c), size_t{1} << 40, &out);
  if (!used) return MakeError(used.error());
  return d.Finish();
}

TEST(LzfStreamTest, RefusesBadInput) {
  // A back-reference before the start: "ab" then a 3-byte reference 5 bytes back.
  std::string c = std::string(
                      "\x01"
                      "ab",
                      3) +
                  std::string("\x20\x04", 2);
  auto r = DecodeAll(c, 5);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, RdbErrc::kCorrupt);
  EXPECT_NE(r.error().message.find("before the start of the output"), std::string::npos)
      << r.error().message;
  // The same reference 2 bytes back is fine ("ab" + "aba").
  ASSERT_TRUE(DecodeAll(std::string("\x01"
                                    "ab",
                                    3) +
                            std::string("\x20\x01", 2),
                        5)
                  .has_value());
  // A reference as the very first instruction.
  r = DecodeAll(std::string("\x80\x05", 2), 8);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, RdbErrc::kCorrupt);

  std::string plain;
  for (int i = 0; i < 2000; ++i) plain += std::to_string(i % 97) + ",";
  std::string good = Compress(plain);
  ASSERT_TRUE(DecodeAll(good, plain.size()).has_value());
  // Output longer than announced: refused during Decode, before it is written.
  r = DecodeAll(good, plain.size() - 1);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, RdbErrc::kCorrupt);
  EXPECT_NE(r.error().message.find("more than the announced"), std::string::npos)
      << r.error().message;
  {  // ... and with the output bounded to one byte per call.
    LzfStreamDecoder d(10);
    std::string out;
    size_t at = 0;
    bool failed = false;
    for (int i = 0; i < 100000 && !failed && (at < good.size() || d.pending_output()); ++i) {
      auto u = d.Decode(AsBytes(std::string_view(good).substr(at)), 1, &out);
      failed = !u.has_value();
      if (u) at += *u;
    }
    EXPECT_TRUE(failed);
    EXPECT_LE(out.size(), 10u);
  }
  // Output shorter than announced: found by Finish.
  r = DecodeAll(good, plain.size() + 1);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, RdbErrc::kCorrupt);
  EXPECT_NE(r.error().message.find("instead of the announced"), std::string::npos)
      << r.error().message;
  // Input ending inside an instruction: a literal run cut short, a reference without its
  // distance byte.
  r = DecodeAll(std::string("\x05"
                            "abc",
                            4),
                6);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("ends inside an instruction"), std::string::npos)
      << r.error().message;
  r = DecodeAll(std::string("\x01"
                            "ab\x20",
                            4),
                5);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("ends inside an instruction"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace kf::rdb
