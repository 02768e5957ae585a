// verify option parsing (modes, durations, validation), the report's renderings and the
// rate limiter.
#include "verify/verify_options.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "verify/rate_limiter.h"
#include "verify/report.h"

namespace kf::verify {
namespace {

using std::chrono::milliseconds;

TEST(VerifyOptionsTest, ParsesModes) {
  VerifyOptions o;
  ASSERT_TRUE(ParseMode("keys", &o));
  EXPECT_EQ(o.mode, VerifyMode::kKeys);
  EXPECT_EQ(ModeName(o), "keys");
  ASSERT_TRUE(ParseMode("full", &o));
  EXPECT_EQ(o.mode, VerifyMode::kFull);
  ASSERT_TRUE(ParseMode("sample:0.01", &o));
  EXPECT_EQ(o.mode, VerifyMode::kSample);
  EXPECT_DOUBLE_EQ(o.sample_rate, 0.01);
  EXPECT_EQ(ModeName(o), "sample:0.01");
  ASSERT_TRUE(ParseMode("sample:5%", &o));
  EXPECT_DOUBLE_EQ(o.sample_rate, 0.05);
  ASSERT_TRUE(ParseMode("sample:1", &o));
  EXPECT_DOUBLE_EQ(o.sample_rate, 1.0);
}

TEST(VerifyOptionsTest, RefusesBadModesWithAHint) {
  VerifyOptions o;
  for (const char* bad : {"", "fast", "sample:", "sample:0", "sample:1.5", "sample:-0.1",
                          "sample:abc", "sample:nan", "sample:200%", "Full"}) {
    auto r = ParseMode(bad, &o);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("sample"), std::string::npos) << r.error().message;
  }
}

TEST(VerifyOptionsTest, ParsesDurations) {
  EXPECT_EQ(*ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(*ParseDuration("2s"), milliseconds(2000));
  EXPECT_EQ(*ParseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(*ParseDuration("3"), milliseconds(3000));
  EXPECT_EQ(*ParseDuration("1m"), milliseconds(60000));
  EXPECT_EQ(*ParseDuration("0"), milliseconds(0));
  for (const char* bad : {"", "s", "-1s", "1h", "fast", "2 s", "inf", "99999999"}) {
    auto r = ParseDuration(bad);
    EXPECT_FALSE(r) << bad;
  }
}

TEST(VerifyOptionsTest, ValidationNamesTheOption) {
  VerifyOptions o;
  EXPECT_TRUE(ValidateOptions(o));
  o.rounds = -1;
  auto r = ValidateOptions(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("--rounds"), std::string::npos);
  o = {};
  o.ttl_tolerance_ms = -5;
  EXPECT_FALSE(ValidateOptions(o));
  o = {};
  o.scan_batch = 0;
  EXPECT_FALSE(ValidateOptions(o));
  o = {};
  o.dbs = {0, -2};
  EXPECT_FALSE(ValidateOptions(o));
}

VerifyReport SampleReport() {
  VerifyReport r;
  r.equal = false;
  r.mode = "full";
  r.source = "redis://127.0.0.1:1";
  r.target = "redis://127.0.0.1:2";
  r.source_dbs = {0, 3};
  r.counts[static_cast<size_t>(DiffKind::kMissing)] = 1;
  r.counts[static_cast<size_t>(DiffKind::kTtl)] = 2;
  r.counts[static_cast<size_t>(DiffKind::kFunction)] = 1;
  r.differing_keys = 3;
  Difference key;
  key.source_db = 3;
  key.target_db = 3;
  key.key = std::string("k\0\xff", 3);
  key.issues = {{DiffKind::kMissing, "a string on the source only"}};
  key.first_round = 1;
  key.last_round = 3;
  Difference lib;
  lib.is_function = true;
  lib.key = "mylib";
  lib.issues = {{DiffKind::kFunction, "library missing on target"}};
  r.examples = {lib, key};
  r.rounds = {{1, 100, 5, 10}, {2, 5, 3, 1}, {3, 3, 3, 1}};
  r.source_keys_checked = 100;
  r.target_keys_scanned = 98;
  r.elapsed_ms = 2500;
  r.keys_per_second = 10000;
  r.notes = {"a note"};
  return r;
}

TEST(VerifyReportTest, TextNamesKindsKeysAndRounds) {
  std::string text = ReportToText(SampleReport());
  EXPECT_NE(text.find("result: DIFFERENT: 3 key(s)"), std::string::npos) << text;
  EXPECT_NE(text.find("after round 3"), std::string::npos) << text;
  EXPECT_NE(text.find("missing on target          1"), std::string::npos) << text;
  EXPECT_NE(text.find("ttl differs                2"), std::string::npos) << text;
  EXPECT_NE(text.find("[missing] db3 k\\x00\\xff: a string on the source only (rounds 1-3)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("[function] function library mylib: library missing on target"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("rounds: #1 5 differing, #2 3 differing, #3 3 differing"), std::string::npos)
      << text;
  EXPECT_NE(text.find("10000 keys/s"), std::string::npos) << text;
  EXPECT_NE(text.find("note: a note"), std::string::npos) << text;

  VerifyReport equal;
  equal.equal = true;
  equal.mode = "keys";
  EXPECT_NE(ReportToText(equal).find("result: EQUAL"), std::string::npos);
}

TEST(VerifyReportTest, JsonCarriesTheSameFacts) {
  auto j = nlohmann::json::parse(ReportToJson(SampleReport()));
  EXPECT_EQ(j["result"], "different");
  EXPECT_EQ(j["equal"], false);
  EXPECT_EQ(j["counts"]["missing"], 1);
  EXPECT_EQ(j["counts"]["ttl"], 2);
  EXPECT_EQ(j["counts"]["value"], 0);
  EXPECT_EQ(j["differing_keys"], 3);
  ASSERT_EQ(j["examples"].size(), 2u);
  EXPECT_EQ(j["examples"][0]["library"], "mylib");
  EXPECT_EQ(j["examples"][1]["db"], 3);
  EXPECT_EQ(j["examples"][1]["key"], "k\\x00\\xff");
  EXPECT_EQ(j["examples"][1]["key_hex"], "6b00ff");
  EXPECT_EQ(j["examples"][1]["last_round"], 3);
  EXPECT_EQ(j["examples"][1]["issues"][0]["kind"], "missing");
  EXPECT_EQ(j["rounds"].size(), 3u);
  EXPECT_EQ(j["rounds"][2]["differing_keys"], 3);
  EXPECT_EQ(j["databases"], nlohmann::json({0, 3}));
}

TEST(VerifyRateLimiterTest, UnlimitedNeverWaits) {
  RateLimiter limiter(0);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(limiter.Acquire(1000).count(), 0);
}

TEST(VerifyRateLimiterTest, KeepsTheAverageRate) {
  // 2000 ops/s with batches of 100: 1000 ops take about 0.5 s less the 0.1 s burst.
  RateLimiter limiter(2000);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) limiter.Acquire(100);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, milliseconds(1500));
}

}  // namespace
}  // namespace kf::verify
