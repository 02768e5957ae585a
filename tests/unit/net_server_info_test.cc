// INFO text fields and the engine-version → RDB-version table.
#include <gtest/gtest.h>

#include "net/server_info.h"

namespace kf::net {
namespace {

TEST(ServerInfoTest, FieldsOfInfoText) {
  const std::string info =
      "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n"
      "slave0:ip=127.0.0.1,port=0,state=online,offset=42,lag=0\r\nmaster_repl_offset:42\r\n";
  EXPECT_EQ(InfoField(info, "role"), "master");
  EXPECT_EQ(InfoField(info, "master_repl_offset"), "42");
  EXPECT_EQ(InfoField(info, "slave0"), "ip=127.0.0.1,port=0,state=online,offset=42,lag=0");
  EXPECT_EQ(InfoField(info, "repl_offset"), "");  // a suffix of another field is not it
  EXPECT_EQ(InfoField(info, "absent"), "");
  EXPECT_EQ(InfoField("role:replica", "role"), "replica");  // no trailing newline
}

TEST(ServerInfoTest, RdbVersionPerEngineVersion) {
  EXPECT_EQ(ServerRdbVersion("redis_version:6.2.16\r\n"), 9);
  EXPECT_EQ(ServerRdbVersion("redis_version:7.0.15\r\n"), 10);
  EXPECT_EQ(ServerRdbVersion("redis_version:7.2.6\r\n"), 11);
  EXPECT_EQ(ServerRdbVersion("redis_version:7.4.1\r\n"), 12);
  EXPECT_EQ(ServerRdbVersion("redis_version:8.4.0\r\n"), 12);
  EXPECT_EQ(ServerRdbVersion("redis_version:8.6.0\r\n"), 13);
  EXPECT_EQ(ServerRdbVersion("redis_version:8.8.0\r\n"), 14);
  // Valkey reports a compatible redis_version too; valkey_version decides.
  EXPECT_EQ(ServerRdbVersion("redis_version:7.2.4\r\nvalkey_version:8.0.1\r\n"), 11);
  EXPECT_EQ(ServerRdbVersion("redis_version:7.2.4\r\nvalkey_version:9.0.0\r\n"), 80);
}

}  // namespace
}  // namespace kf::net

namespace kf::net {
namespace {

TEST(KeyspaceKeyCountTest, SumsEveryDbAndIgnoresTheRest) {
  EXPECT_EQ(KeyspaceKeyCount("# Keyspace\r\ndb0:keys=12,expires=3,avg_ttl=0\r\n"
                             "db3:keys=5,expires=0,avg_ttl=0\r\n"),
            17u);
  EXPECT_EQ(KeyspaceKeyCount("# Keyspace\r\n"), 0u);
  EXPECT_EQ(KeyspaceKeyCount(""), 0u);
  EXPECT_EQ(KeyspaceKeyCount("db0:keys=7"), 7u);                    // no line end
  EXPECT_EQ(KeyspaceKeyCount("db0:expires=3\nxdb1:keys=9\n"), 0u);  // no keys=, not a db line
}

}  // namespace
}  // namespace kf::net
