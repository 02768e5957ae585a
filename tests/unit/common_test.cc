// Tests of the common layer: Result<T>, byte renderings.
#include <gtest/gtest.h>

#include "common/bytes.h"
#include "common/result.h"

namespace kf {
namespace {

enum class TestErrc { kBad = 1 };
class TestCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "test"; }
  std::string message(int) const override { return "bad"; }
};
std::error_code make_error_code(TestErrc e) {
  static TestCategory category;
  return {static_cast<int>(e), category};
}

}  // namespace
}  // namespace kf

template <>
struct std::is_error_code_enum<kf::TestErrc> : std::true_type {};

namespace kf {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) return MakeError(TestErrc::kBad, "odd number " + std::to_string(v));
  return v / 2;
}

Result<int> Quarter(int v) {
  auto half = Half(v);
  if (!half) return MakeError(std::move(half).error());
  return Half(*half);
}

TEST(ResultTest, CarriesValueOrError) {
  auto ok = Quarter(8);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, 2);
  auto bad = Quarter(6);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, make_error_code(TestErrc::kBad));
  EXPECT_EQ(bad.error().ToString(), "odd number 3");
}

TEST(BytesTest, HexAndPrintable) {
  const uint8_t raw[] = {0x00, 'a', 0xff, '\\'};
  EXPECT_EQ(HexEncode(ByteView(raw, 4)), "0061ff5c");
  EXPECT_EQ(Printable(ByteView(raw, 4)), "\\x00a\\xff\\x5c");
  EXPECT_EQ(Printable(std::string_view("abcdef"), 3), "abc...");
}

}  // namespace
}  // namespace kf
