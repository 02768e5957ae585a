// CRC-64/Jones against its published check value and against a byte-at-a-time split.
#include <gtest/gtest.h>

#include <string>

#include "rdb/crc64.h"

namespace kf::rdb {
namespace {

TEST(Crc64Test, CheckValue) {
  EXPECT_EQ(Crc64(0, AsBytes("123456789")), 0xe9c6d914c4b8d9caULL);
  EXPECT_EQ(Crc64(0, AsBytes("")), 0u);
}

TEST(Crc64Test, ChunkedEqualsWhole) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 37 + 11));
  uint64_t whole = Crc64(0, AsBytes(data));
  uint64_t chunked = 0;
  for (size_t i = 0; i < data.size(); i += 3) {
    chunked = Crc64(chunked, AsBytes(std::string_view(data).substr(i, 3)));
  }
  EXPECT_EQ(whole, chunked);
}

}  // namespace
}  // namespace kf::rdb
