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

TEST(KeyspaceEventsTest, WritesWithoutNotificationsAreCountedFromCommandstats) {
  // As Redis 7.0 answers INFO commandstats (CRLF, subcommands as function|load).
  const std::string info =
      "# Commandstats\r\n"
      "cmdstat_set:calls=10,usec=20,usec_per_call=2.00,rejected_calls=0,failed_calls=0\r\n"
      "cmdstat_flushdb:calls=2,usec=5,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\n"
      "cmdstat_flushall:calls=1,usec=5,usec_per_call=5.00,rejected_calls=0,failed_calls=0\r\n"
      "cmdstat_swapdb:calls=4,usec=5,usec_per_call=1.25,rejected_calls=0,failed_calls=0\r\n"
      "cmdstat_function|load:calls=3,usec=9,usec_per_call=3.00,rejected_calls=0,failed_calls=0\r\n"
      "cmdstat_function|list:calls=7,usec=9,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n"
      "cmdstat_function|delete:calls=1,usec=1,usec_per_call=1.00,rejected_calls=0,failed_calls="
      "0\r\n";
  const UnnotifiedWriteCalls calls = ParseUnnotifiedWriteCalls(info);
  EXPECT_EQ(calls.whole_db, 7u);
  EXPECT_EQ(calls.functions, 4u) << "FUNCTION LIST changes nothing";
  // Nothing ran yet: no lines; a garbled line is ignored.
  EXPECT_EQ(ParseUnnotifiedWriteCalls("# Commandstats\ncmdstat_get:calls=1\n"),
            UnnotifiedWriteCalls{});
  EXPECT_EQ(ParseUnnotifiedWriteCalls("cmdstat_flushdb:calls=x\ncmdstat_flushdb\n"),
            UnnotifiedWriteCalls{});
}

}  // namespace
}  // namespace kf::sync
