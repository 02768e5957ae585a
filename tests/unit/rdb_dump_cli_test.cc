// `keyferry rdb dump` through the CLI's own code path (kf::cli::RunCli, as main() calls
// it, with stdout captured): on every fixture, with default options, the output is byte
// for byte the fixture's .jsonl; `--format full` is the canonical form plus what it leaves
// out; bad arguments and unreadable files exit 2. Every fixture, Redis 6.2 included, is
// compared byte for byte.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/cli_app.h"
#include "rdb/canonical.h"
#include "rdb_test_util.h"

namespace kf::rdb {
namespace {

using testing::CompareFixtureLines;
using testing::FixturePath;
using testing::FixtureStems;
using testing::ReadFileBytes;
using testing::SplitLines;

struct CliRun {
  int exit_code = -1;
  std::string out;
};

// Runs `keyferry <args...>` in-process and captures what it prints on stdout.
CliRun RunKeyferry(std::vector<std::string> args) {
  args.insert(args.begin(), "keyferry");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  CliRun run;
  // RunCli sets logging up by creating the "keyferry" spdlog logger, which spdlog refuses
  // to create twice in one process; drop the previous run's.
  spdlog::drop("keyferry");
  ::testing::internal::CaptureStdout();
  run.exit_code = cli::RunCli(static_cast<int>(args.size()), argv.data());
  run.out = ::testing::internal::GetCapturedStdout();
  return run;
}

class RdbDumpCliTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RdbDumpCliTest, DefaultOutputIsTheFixtureJsonl) {
  const std::string& stem = GetParam();
  CliRun run = RunKeyferry({"rdb", "dump", FixturePath(stem, ".rdb")});
  ASSERT_EQ(run.exit_code, 0);
  ASSERT_FALSE(run.out.empty());
  ASSERT_EQ(run.out.back(), '\n');
  EXPECT_EQ(CompareFixtureLines(stem, SplitLines(run.out)), "");
  EXPECT_TRUE(run.out == ReadFileBytes(FixturePath(stem, ".jsonl")))
      << "the whole output must equal " << stem << ".jsonl byte for byte";
  // --format canonical is the default.
  CliRun explicit_run =
      RunKeyferry({"rdb", "dump", "--format", "canonical", FixturePath(stem, ".rdb")});
  EXPECT_EQ(explicit_run.exit_code, 0);
  EXPECT_TRUE(explicit_run.out == run.out);
}

// Reduces a full-form line to the canonical form: drops idle/freq and first_id, keeps the
// first 10 pending entries without their delivery time, and consumers by name only.
std::string FullToCanonical(const std::string& line) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(line);
  if (!j.contains("key")) return line;  // function library lines are the same in both
  j.erase("freq");
  j.erase("idle_s");
  if (j["type"] == "stream") {
    auto& v = j["value"];
    v.erase("first_id");
    for (auto& g : v["groups"]) {
      auto& pel = g["pel"];
      if (pel.size() > kCanonicalPelEntries) {
        pel.erase(pel.begin() + kCanonicalPelEntries, pel.end());
      }
      for (auto& p : pel) p.erase(3);
      for (auto& c : g["consumers"]) c = c[0];
    }
  }
  return j.dump();
}

TEST_P(RdbDumpCliTest, FullFormatAddsWhatTheCanonicalFormLeavesOut) {
  const std::string& stem = GetParam();
  CliRun canonical = RunKeyferry({"rdb", "dump", FixturePath(stem, ".rdb")});
  CliRun full = RunKeyferry({"rdb", "dump", "--format", "full", FixturePath(stem, ".rdb")});
  ASSERT_EQ(canonical.exit_code, 0);
  ASSERT_EQ(full.exit_code, 0);
  auto c = SplitLines(canonical.out);
  auto f = SplitLines(full.out);
  ASSERT_EQ(c.size(), f.size());
  size_t longer_pel = 0, with_lru_lfu = 0, with_delivery_time = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    ASSERT_EQ(FullToCanonical(f[i]), c[i]) << "line " << i + 1;
    auto j = nlohmann::json::parse(f[i]);
    if (j.contains("idle_s") || j.contains("freq")) ++with_lru_lfu;
    if (j.value("type", "") != "stream") continue;
    for (const auto& g : j["value"]["groups"]) {
      if (g["pel"].size() > kCanonicalPelEntries) ++longer_pel;
      for (const auto& p : g["pel"]) {
        ASSERT_EQ(p.size(), 4u);
        if (p[3].get<int64_t>() > 0) ++with_delivery_time;
      }
      for (const auto& co : g["consumers"]) ASSERT_EQ(co.size(), 3u);
    }
  }
  // Every fixture has a group with more than 10 pending entries, which only the full
  // form lists whole, and real delivery times.
  EXPECT_GT(longer_pel, 0u);
  EXPECT_GT(with_delivery_time, kCanonicalPelEntries);
  // allkeys-lru / allkeys-lfu fixtures carry IDLE / FREQ on every key, the others none.
  const size_t key_lines = static_cast<size_t>(std::count_if(
      c.begin(), c.end(), [](const std::string& l) { return l.starts_with("{\"db\":"); }));
  const bool lru_or_lfu =
      ReadFileBytes(FixturePath(stem, ".json")).find("allkeys-l") != std::string::npos;
  EXPECT_EQ(with_lru_lfu, lru_or_lfu ? key_lines : 0u);
  // --pel-limit 0 lifts the canonical limit: the same pending entries as the full form.
  CliRun all_pel = RunKeyferry({"rdb", "dump", "--pel-limit", "0", FixturePath(stem, ".rdb")});
  ASSERT_EQ(all_pel.exit_code, 0);
  auto a = SplitLines(all_pel.out);
  ASSERT_EQ(a.size(), f.size());
  for (size_t i = 0; i < a.size(); ++i) {
    auto ja = nlohmann::json::parse(a[i]);
    auto jf = nlohmann::json::parse(f[i]);
    if (ja.value("type", "") != "stream") continue;
    for (size_t g = 0; g < ja["value"]["groups"].size(); ++g) {
      EXPECT_EQ(ja["value"]["groups"][g]["pel"].size(), jf["value"]["groups"][g]["pel"].size());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RdbDumpCliTest, ::testing::ValuesIn(FixtureStems()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

TEST(RdbDumpCli, BadArgumentsAndFilesExitTwo) {
  EXPECT_EQ(RunKeyferry({"rdb", "dump", "--format", "yaml", FixturePath("redis-7.0-base", ".rdb")})
                .exit_code,
            2);
  EXPECT_EQ(RunKeyferry({"rdb", "dump", "/nonexistent/dir/file.rdb"}).exit_code, 2);
  // A truncated copy of a fixture: a reader error, exit 2, nothing on stdout.
  const std::string data = ReadFileBytes(FixturePath("redis-7.0-base", ".rdb"));
  const std::string path = ::testing::TempDir() + "/kf_truncated.rdb";
  {
    std::ofstream out(path, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size() / 2));
  }
  CliRun cut = RunKeyferry({"rdb", "dump", path});
  EXPECT_EQ(cut.exit_code, 2);
  EXPECT_EQ(cut.out, "");
}

}  // namespace
}  // namespace kf::rdb
