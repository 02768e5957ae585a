// Reply helpers of verify's Endpoint: fields of RESP2 flat arrays and RESP3 maps, and
// which error replies mean "the key changed under the read" rather than a server failure.
#include <gtest/gtest.h>

#include "verify/endpoint.h"

namespace kf::verify {
namespace {

using resp::Reply;
using resp::ReplyType;

TEST(VerifyEndpointTest, FieldOfReadsFlatArraysAndMaps) {
  Reply flat = Reply::Aggregate(ReplyType::kArray,
                                {Reply::Bulk("name"), Reply::Bulk("g1"), Reply::Bulk("pending"),
                                 Reply::Integer(3), Reply::Bulk("entries-read"), Reply::Null()});
  ASSERT_NE(FieldOf(flat, "name"), nullptr);
  EXPECT_EQ(FieldOf(flat, "name")->str(), "g1");
  EXPECT_EQ(FieldOf(flat, "pending")->integer(), 3);
  EXPECT_TRUE(FieldOf(flat, "entries-read")->is_null());
  EXPECT_EQ(FieldOf(flat, "g1"), nullptr);  // values are not names
  EXPECT_EQ(FieldOf(flat, "lag"), nullptr);

  Reply map = Reply::Aggregate(ReplyType::kMap, {Reply::SimpleString("length"), Reply::Integer(7)});
  ASSERT_NE(FieldOf(map, "length"), nullptr);
  EXPECT_EQ(FieldOf(map, "length")->integer(), 7);

  // An odd trailing element and non-aggregates are handled, not indexed past the end.
  Reply odd = Reply::Aggregate(ReplyType::kArray, {Reply::Bulk("name")});
  EXPECT_EQ(FieldOf(odd, "name"), nullptr);
  EXPECT_EQ(FieldOf(Reply::Bulk("name"), "name"), nullptr);
}

TEST(VerifyEndpointTest, KeyChangedErrorsAreTellable) {
  EXPECT_TRUE(IsKeyChangedError(
      Reply::Error("WRONGTYPE Operation against a key holding the wrong kind of value")));
  EXPECT_TRUE(IsKeyChangedError(Reply::Error("ERR no such key")));
  EXPECT_FALSE(IsKeyChangedError(Reply::Error("LOADING Redis is loading the dataset in memory")));
  EXPECT_FALSE(IsKeyChangedError(Reply::Error("NOPERM this user has no permissions")));
  EXPECT_FALSE(IsKeyChangedError(Reply::Bulk("WRONGTYPE")));
}

}  // namespace
}  // namespace kf::verify
