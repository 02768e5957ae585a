// Scan mode's reading of keyspace notifications (sync/keyspace_events.h): which
// notify-keyspace-events classes are missing, and what a pmessage says.
#include <gtest/gtest.h>

#include "sync/keyspace_events.h"

namespace kf::sync {
namespace {

resp::Reply Message(resp::ReplyType type, std::vector<std::string> parts) {
  std::vector<resp::Reply> children;
  for (const auto& p : parts) children.push_back(resp::Reply::Bulk(p));
  return resp::Reply::Aggregate(type, std::move(children));
}

TEST(KeyspaceEventsTest, MissingClassesAreNamedInOrder) {
  EXPECT_EQ(MissingNotifyClasses(""), "Kg$lshzxet");
  EXPECT_EQ(MissingNotifyClasses("KEA"), "");
  EXPECT_EQ(MissingNotifyClasses("AK"), "");
  EXPECT_EQ(MissingNotifyClasses("EA"), "K") << "E (keyevent) is not the keyspace channel";
  EXPECT_EQ(MissingNotifyClasses("K$g"), "lshzxet");
  EXPECT_EQ(MissingNotifyClasses("Kg$lshzxet"), "");
  EXPECT_EQ(MissingNotifyClasses("Kx"), "g$lshzet");
  EXPECT_EQ(WithNotifyClasses("Ex"), "ExKg$lshzet");
  EXPECT_EQ(MissingNotifyClasses(WithNotifyClasses("Ex")), "");
}

TEST(KeyspaceEventsTest, AKeyspaceMessageGivesDbKeyAndEvent) {
  for (auto type : {resp::ReplyType::kArray, resp::ReplyType::kPush}) {
    auto e = ParseKeyspaceEvent(
        Message(type, {"pmessage", "__keyspace@*__:*", "__keyspace@3__:user:1", "hset"}));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->db, 3);
    EXPECT_EQ(e->key, "user:1");
    EXPECT_EQ(e->event, "hset");
  }
  // A key holding the separator and binary bytes is kept whole.
  auto odd = ParseKeyspaceEvent(Message(
      resp::ReplyType::kArray,
      {"pmessage", "__keyspace@*__:*", std::string("__keyspace@12__:a__:b\0\xff", 23), "del"}));
  ASSERT_TRUE(odd.has_value());
  EXPECT_EQ(odd->db, 12);
  EXPECT_EQ(odd->key, std::string("a__:b\0\xff", 7));
}

TEST(KeyspaceEventsTest, OtherRepliesAreNotEvents) {
  using resp::ReplyType;
  EXPECT_FALSE(ParseKeyspaceEvent(Message(ReplyType::kArray, {"psubscribe", "p", "1"})));
  EXPECT_FALSE(ParseKeyspaceEvent(Message(ReplyType::kArray, {"pong", "keyferry-fence-1"})));
  EXPECT_FALSE(ParseKeyspaceEvent(resp::Reply::Bulk("keyferry-fence-1")));
  EXPECT_FALSE(ParseKeyspaceEvent(
      Message(ReplyType::kArray, {"pmessage", "p", "__keyevent@0__:set", "user:1"})));
  EXPECT_FALSE(
      ParseKeyspaceEvent(Message(ReplyType::kArray, {"pmessage", "p", "__keyspace@__:k", "x"})));
  EXPECT_FALSE(
      ParseKeyspaceEvent(Message(ReplyType::kArray, {"pmessage", "p", "__keyspace@x1__:k", "x"})));
  EXPECT_FALSE(
      ParseKeyspaceEvent(Message(ReplyType::kArray, {"pmessage", "p", "__keyspace@-1__:k", "x"})));
  EXPECT_FALSE(ParseKeyspaceEvent(Message(ReplyType::kArray, {"message", "c", "m"})));
}

}  // namespace
}  // namespace kf::sync
