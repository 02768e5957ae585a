// SurveyRdbFile (source/rdb_file_survey.h) on every shared fixture: what it counts agrees
// with what the server that saved the file said about itself when it saved it (the
// fixture's .json: INFO keyspace, version, header, function libraries); a truncated and a
// corrupted copy are refused with the reader's reason.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "rdb_test_util.h"
#include "source/rdb_file_survey.h"

namespace kf::source {
namespace {

using rdb::testing::FixturePath;
using rdb::testing::FixtureStems;
using rdb::testing::ReadFileBytes;

// INFO keyspace's "db0:keys=1035,expires=145,...;db3:..." as db -> {field -> value}.
std::map<uint64_t, std::map<std::string, uint64_t>> ParseKeyspace(const std::string& text) {
  std::map<uint64_t, std::map<std::string, uint64_t>> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find(';', at);
    if (end == std::string::npos) end = text.size();
    const std::string entry = text.substr(at, end - at);
    const size_t colon = entry.find(':');
    const uint64_t db = std::stoull(entry.substr(2, colon - 2));
    size_t f = colon + 1;
    while (f < entry.size()) {
      size_t comma = entry.find(',', f);
      if (comma == std::string::npos) comma = entry.size();
      const std::string pair = entry.substr(f, comma - f);
      const size_t eq = pair.find('=');
      out[db][pair.substr(0, eq)] = std::stoull(pair.substr(eq + 1));
      f = comma + 1;
    }
    at = end + 1;
  }
  return out;
}

class SurveyFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SurveyFixtureTest, CountsWhatTheSavingServerReported) {
  const std::string stem = GetParam();
  auto meta = nlohmann::json::parse(ReadFileBytes(FixturePath(stem, ".json")));
  auto input = RdbFileInput::Open(FixturePath(stem, ".rdb"));
  ASSERT_TRUE(input) << input.error().ToString();
  auto survey = SurveyRdbFile(*input);
  ASSERT_TRUE(survey) << survey.error().ToString();

  const std::string header = meta["rdb_header"];  // "REDIS0012" / "VALKEY080"
  EXPECT_EQ(survey->rdb_version, std::stoi(header.substr(header.find_first_of("0123456789"))));
  if (stem.starts_with("valkey")) {
    // Valkey reports redis_version 7.2.4 (the fixture's engine_version) and saves its own
    // version in the valkey-ver aux field (a development build's is 255.255.255).
    EXPECT_TRUE(survey->saved_by.starts_with(stem == "valkey-8.0-base" ? "Valkey 8.0." : "Valkey "))
        << survey->saved_by;
  } else {
    EXPECT_EQ(survey->saved_by, "Redis " + meta["engine_version"].get<std::string>());
  }
  EXPECT_EQ(survey->functions, meta["function_libraries"].get<uint64_t>());
  EXPECT_EQ(survey->bytes, ReadFileBytes(FixturePath(stem, ".rdb")).size());
  EXPECT_TRUE(survey->checksum_checked);

  uint64_t keys = 0, expires = 0, subexpiry = 0;
  std::map<uint64_t, uint64_t> by_db;
  for (const auto& [db, fields] : ParseKeyspace(meta["keyspace"])) {
    by_db[db] = fields.at("keys");
    keys += fields.at("keys");
    expires += fields.at("expires");
    if (fields.contains("subexpiry")) subexpiry += fields.at("subexpiry");
  }
  EXPECT_EQ(survey->keys_by_db, by_db);
  EXPECT_EQ(survey->keys, keys);
  EXPECT_EQ(survey->keys_with_expiry, expires);
  EXPECT_EQ(survey->field_ttl_hashes, subexpiry);
}

INSTANTIATE_TEST_SUITE_P(EveryFixture, SurveyFixtureTest, ::testing::ValuesIn(FixtureStems()),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(SurveyRdbFile, ATruncatedOrCorruptedCopyIsRefusedWithTheReason) {
  const std::string bytes = ReadFileBytes(FixturePath("redis-7.2-base", ".rdb"));
  const std::string dir = ::testing::TempDir();
  struct Case {
    std::string name;
    std::string content;
    std::string expected;
  };
  std::string flipped = bytes;
  flipped[bytes.size() / 2] = static_cast<char>(flipped[bytes.size() / 2] ^ 0x5a);
  for (const Case& c : {Case{"truncated", bytes.substr(0, bytes.size() - 20), "ended before"},
                        Case{"corrupt", flipped, "not a readable RDB file"}}) {
    SCOPED_TRACE(c.name);
    const std::string path = dir + "/kf-survey-" + c.name + ".rdb";
    std::ofstream(path, std::ios::binary) << c.content;
    auto input = RdbFileInput::Open(path);
    ASSERT_TRUE(input);
    auto survey = SurveyRdbFile(*input);
    ASSERT_FALSE(survey) << "a damaged file was accepted";
    EXPECT_NE(survey.error().message.find(c.expected), std::string::npos) << survey.error().message;
    std::remove(path.c_str());
  }
}

}  // namespace
}  // namespace kf::source
