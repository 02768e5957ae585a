// keyferry apply with a backup file as its source (issue #12 §3: `source: {rdb_file: PATH}`,
// an offline migration: PREFLIGHT, PROVISION, restore, VERIFY against the file, CUTOVER, no
// pause). The file is one a real Redis 7.0 saved (SAVE) after SeedEveryType; that Redis
// stays up as the oracle: after DONE the harness's own canonical reader compares it with the
// Valkey target keyferry provisioned.
//  1. plan and doctor describe the file; apply runs to DONE; the target equals the Redis
//     that saved the file; the journal says there was nothing to pause or shut down.
//  2. SIGKILL in the middle of the restore (a file of 300,000 keys), then apply again: the
//     partial copy is emptied and restored again; DONE and equal (no key doubled or lost).
//  3. a key written into the target between the restore and VERIFY: VERIFY finds it and the
//     migration rolls back (no cutover hook, the target removed).
//  4. the file changed between the restore and VERIFY: refused, rolled back.
//  5. a corrupt (a byte flipped in a value, or in the checksum) and a truncated file: PREFLIGHT
//     refuses, nothing is provisioned.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "harness/dataset.h"
#include "harness/journal_value.h"
#include "harness/server_process.h"
#include "harness/subprocess.h"
#include "net/client.h"

namespace kf::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A spec whose source is `rdb_file`, a local Valkey target and a hook that records {uri}.
class FileSpec {
 public:
  explicit FileSpec(const std::string& rdb_file) {
    dir_ = MakeTempDir("kf-file-apply-");
    path_ = dir_ + "/cache.yaml";
    hook_out_ = dir_ + "/cutover.txt";
    std::ofstream(path_) << "name: from-backup\n"
                            "source:\n"
                            "  rdb_file: "
                         << rdb_file
                         << "\n"
                            "target:\n"
                            "  engine: valkey\n"
                            "  version: \"8.0\"\n"
                            "  provider: local\n"
                            "cutover:\n"
                            "  hook: \"echo {uri} > "
                         << hook_out_ << "\"\n";
  }
  ~FileSpec() {
    if (auto pid = Get("target.pid"); !pid.empty()) ::kill(std::stoi(pid), SIGKILL);
    RemoveTree(dir_);
  }
  const std::string& path() const { return path_; }
  std::string state_dir() const { return dir_ + "/keyferry-state/from-backup"; }
  std::string Get(const std::string& key) const { return JournalValue(state_dir(), key); }
  std::string Phase() const { return Get("phase"); }
  std::string HookOutput() const {
    std::ifstream in(hook_out_);
    std::string line;
    std::getline(in, line);
    return line;
  }
  std::string Events() const {
    Subprocess events({KeyferryBinary(), "events", "-f", path_});
    events.Wait(seconds(20));
    return events.Stdout();
  }

 private:
  std::string dir_;
  std::string path_;
  std::string hook_out_;
};

// A Redis 7.0 seeded with every type, saved to its dump.rdb; returns the file's path.
std::string SaveDataset(const ServerProcess& redis, int extra_keys = 0) {
  SeedEveryType(UriOf(redis.uri()));
  if (extra_keys > 0) {
    EXPECT_EQ(redis.Call({"DEBUG", "POPULATE", std::to_string(extra_keys), "bulk", "64"}), "OK");
  }
  EXPECT_EQ(redis.Call({"SAVE"}), "OK");
  return redis.dir() + "/dump.rdb";
}

std::unique_ptr<ServerProcess> StartRedis() {
  // No TTL may pass between SAVE and the comparison: SeedEveryType's TTLs are long enough
  // (minutes) except the ones it sets in the past, which are gone from both.
  return ServerProcess::Start(ServerKind::kRedis,
                              {.config = {{"enable-debug-command", "yes"}, {"save", ""}}});
}

TEST(FileSourceApplyTest, ABackupFileMigratesOfflineToDoneAndEqualsTheServerThatSavedIt) {
  auto redis = StartRedis();
  ASSERT_TRUE(redis);
  const std::string file = SaveDataset(*redis);
  ASSERT_FALSE(HasFailure());
  FileSpec spec(file);

  Subprocess plan({KeyferryBinary(), "plan", "-f", spec.path()});
  ASSERT_EQ(plan.Wait(seconds(30)), 0) << plan.Stdout() << plan.Stderr();
  EXPECT_NE(plan.Stdout().find("the backup file " + file), std::string::npos) << plan.Stdout();
  EXPECT_NE(plan.Stdout().find("no write pause"), std::string::npos) << plan.Stdout();
  Subprocess doctor({KeyferryBinary(), "doctor", "-f", spec.path()});
  doctor.Wait(seconds(30));
  EXPECT_NE(doctor.Stdout().find("saved by Redis 7.0"), std::string::npos) << doctor.Stdout();
  EXPECT_NE(doctor.Stdout().find("its checksum matches"), std::string::npos) << doctor.Stdout();

  Subprocess apply({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
  ASSERT_EQ(apply.Wait(seconds(120)), 0) << apply.Stdout() << apply.Stderr();
  EXPECT_EQ(spec.Phase(), "DONE");
  const std::string target = spec.HookOutput();
  ASSERT_FALSE(target.empty()) << "the cutover hook did not run";
  auto diffs = CanonicalDiff(UriOf(redis->uri()), UriOf(target));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  net::Client client;
  ASSERT_TRUE(client.Connect(UriOf(target)));
  auto marker = client.Call({"EXISTS", "keyferry:applied-offset"});
  ASSERT_TRUE(marker);
  EXPECT_EQ(marker->integer(), 0) << "keyferry's marker was left on the target";
  const std::string events = spec.Events();
  for (const char* expected :
       {"restored ", "no writes to pause or drain", "the target holds exactly the file's",
        "no write pause", "nothing to shut down; the file is left as it is"}) {
    EXPECT_NE(events.find(expected), std::string::npos) << expected << "\n" << events;
  }
  EXPECT_TRUE(redis->running()) << "the Redis that saved the file is no source to shut down";
}

TEST(FileSourceApplyTest, KilledDuringTheRestoreRestoresAgainAndEndsEqual) {
  auto redis = StartRedis();
  ASSERT_TRUE(redis);
  const std::string file = SaveDataset(*redis, 300000);
  ASSERT_FALSE(HasFailure());
  FileSpec spec(file);
  {
    Subprocess apply({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
    // Wait until the restore has written part of the file (the target's DBSIZE moves),
    // then kill apply.
    bool partway = false;
    for (int i = 0; i < 3000 && !partway; ++i) {
      const std::string port = spec.Get("target.port");
      net::Client target;
      if (spec.Phase() == "FULL_SYNC" && !port.empty() &&
          target.Connect(UriOf("redis://127.0.0.1:" + port))) {
        auto size = target.Call({"DBSIZE"});
        partway = size && size->integer() > 1000;
      }
      if (!partway) std::this_thread::sleep_for(milliseconds(2));
    }
    ASSERT_TRUE(partway) << "the restore was never seen part-way\n" << apply.Stderr();
    apply.Signal(SIGKILL);
    apply.Wait(seconds(10));
  }
  // What the killed run left: a target holding part of the file.
  const std::string port = spec.Get("target.port");
  ASSERT_FALSE(port.empty());
  net::Client partial;
  ASSERT_TRUE(partial.Connect(UriOf("redis://127.0.0.1:" + port)));
  auto size = partial.Call({"DBSIZE"});
  ASSERT_TRUE(size);
  EXPECT_GT(size->integer(), 0) << "the kill came before the first write";
  EXPECT_LT(size->integer(), 300000) << "the kill came after the restore";

  Subprocess again({KeyferryBinary(), "apply", "-f", spec.path(), "--auto-approve"});
  ASSERT_EQ(again.Wait(seconds(180)), 0) << again.Stdout() << again.Stderr();
  EXPECT_EQ(spec.Phase(), "DONE");
  auto diffs = CanonicalDiff(UriOf(redis->uri()), UriOf(spec.HookOutput()));
  EXPECT_TRUE(diffs.empty()) << JoinDiffs(diffs);
  EXPECT_NE(spec.Events().find("emptying the target of its partial copy"), std::string::npos);
}

// Runs apply held `hold_ms` in CATCH_UP (after the restore, before VERIFY), calls `meddle`
// while it waits, and returns apply's exit code.
int ApplyMeddlingBeforeVerify(const FileSpec& spec, const std::function<void()>& meddle,
                              std::string* output) {
  Subprocess apply({"env", "KEYFERRY_TEST_HOLD_PHASE=CATCH_UP:3000", KeyferryBinary(), "apply",
                    "-f", spec.path(), "--auto-approve"});
  bool reached = false;
  for (int i = 0; i < 1500 && !reached; ++i) {
    reached = spec.Phase() == "CATCH_UP";
    if (!reached) std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_TRUE(reached) << apply.Stderr();
  meddle();
  const int code = apply.Wait(seconds(120));
  *output = apply.Stdout() + apply.Stderr();
  return code;
}

TEST(FileSourceApplyTest, AKeyTheFileDoesNotHoldFailsVerifyAndRollsBack) {
  auto redis = StartRedis();
  ASSERT_TRUE(redis);
  const std::string file = SaveDataset(*redis);
  ASSERT_FALSE(HasFailure());
  FileSpec spec(file);
  std::string output;
  const int code = ApplyMeddlingBeforeVerify(
      spec,
      [&] {
        const std::string port = spec.Get("target.port");
        ASSERT_FALSE(port.empty());
        net::Client target;
        ASSERT_TRUE(target.Connect(UriOf("redis://127.0.0.1:" + port)));
        ASSERT_TRUE(target.Call({"SET", "written-behind-keyferrys-back", "x"}));
      },
      &output);
  EXPECT_NE(code, 0) << output;
  EXPECT_EQ(spec.Phase(), "ROLLED_BACK") << output;
  EXPECT_EQ(spec.HookOutput(), "") << "the cutover hook must not have run";
  EXPECT_NE(output.find("the target differs from " + file), std::string::npos) << output;
  EXPECT_EQ(spec.Get("target.pid"), "") << "the provisioned target was not removed";
}

TEST(FileSourceApplyTest, AFileChangedAfterTheRestoreIsRefusedAtVerify) {
  auto redis = StartRedis();
  ASSERT_TRUE(redis);
  const std::string saved = SaveDataset(*redis);
  ASSERT_FALSE(HasFailure());
  // A copy of the file, so the test can change it.
  const std::string dir = MakeTempDir("kf-file-copy-");
  const std::string file = dir + "/backup.rdb";
  std::filesystem::copy_file(saved, file);
  FileSpec copy_spec(file);
  std::string output;
  const int code = ApplyMeddlingBeforeVerify(
      copy_spec, [&] { std::ofstream(file, std::ios::app) << "x"; }, &output);
  EXPECT_NE(code, 0) << output;
  EXPECT_EQ(copy_spec.Phase(), "ROLLED_BACK") << output;
  EXPECT_NE(output.find("changed since it was restored"), std::string::npos) << output;
  EXPECT_EQ(copy_spec.HookOutput(), "");
  RemoveTree(dir);
}

TEST(FileSourceApplyTest, ACorruptOrTruncatedFileStopsPreflightBeforeAnythingIsProvisioned) {
  auto redis = StartRedis();
  ASSERT_TRUE(redis);
  const std::string saved = SaveDataset(*redis);
  ASSERT_FALSE(HasFailure());
  const auto bytes = std::filesystem::file_size(saved);
  struct Damage {
    const char* name;
    const char* expected;  // in apply's output
  };
  // A byte flipped in the middle breaks the framing or only the checksum, depending on what
  // it hits (the dataset differs per run): any reason will do. Flipped in the stored
  // checksum, it is always the checksum.
  for (const Damage& damage :
       {Damage{"flipped", "source.file: "}, Damage{"bad-checksum", "checksum mismatch"},
        Damage{"truncated", "ended before"}}) {
    SCOPED_TRACE(damage.name);
    const std::string dir = MakeTempDir("kf-file-damaged-");
    const std::string file = dir + "/" + damage.name + ".rdb";
    std::filesystem::copy_file(saved, file);
    if (std::string(damage.name) != "truncated") {
      const auto at = static_cast<std::streamoff>(
          std::string(damage.name) == "flipped" ? bytes / 2 : bytes - 3);
      std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(at);
      char c = 0;
      f.read(&c, 1);
      f.seekp(at);
      c = static_cast<char>(c ^ 0x5a);
      f.write(&c, 1);
    } else {
      std::filesystem::resize_file(file, bytes - 20);
    }
    FileSpec damaged(file);
    Subprocess apply({KeyferryBinary(), "apply", "-f", damaged.path(), "--auto-approve"});
    const int code = apply.Wait(seconds(60));
    const std::string output = apply.Stdout() + apply.Stderr();
    EXPECT_NE(code, 0) << output;
    EXPECT_NE(output.find("source.file"), std::string::npos) << output;
    EXPECT_NE(output.find(damage.expected), std::string::npos) << output;
    EXPECT_EQ(damaged.Get("target.pid"), "") << "a target was provisioned";
    RemoveTree(dir);
  }
}

}  // namespace
}  // namespace kf::test
