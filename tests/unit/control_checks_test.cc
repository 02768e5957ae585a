// The server-less checks shared by doctor, plan and PREFLIGHT (control/checks.h), the
// server identity parsed from INFO server (net/server_info.h), the checkpoint path check
// of keyferry sync (sync/checkpoint_path.h) and where a spec's hook runs (Spec::spec_dir).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "control/checks.h"
#include "control/cutover_hook.h"
#include "control/phase.h"
#include "control/spec.h"
#include "net/server_info.h"
#include "sync/checkpoint_path.h"

namespace kf::control {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "kf-checks-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ServerIdentityTest, EngineVersionAndRunId) {
  auto valkey = net::ParseServerIdentity(
      "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\n"
      "run_id:aaaa\r\n");
  EXPECT_EQ(valkey.engine, "valkey");
  EXPECT_EQ(valkey.version, "8.0.1");
  EXPECT_EQ(valkey.run_id, "aaaa");
  auto redis = net::ParseServerIdentity("redis_version:7.0.15\r\nrun_id:bbbb\r\n");
  EXPECT_EQ(redis.engine, "redis");
  EXPECT_EQ(redis.version, "7.0.15");
  // Valkey 7.2 says server_name:valkey without a valkey_version field.
  auto valkey72 = net::ParseServerIdentity("redis_version:7.2.5\r\nserver_name:valkey\r\n");
  EXPECT_EQ(valkey72.engine, "valkey");
  EXPECT_EQ(valkey72.version, "7.2.5");

  EXPECT_TRUE(net::SameServer(redis, net::ParseServerIdentity("run_id:bbbb\r\n")));
  EXPECT_FALSE(net::SameServer(redis, valkey));
  EXPECT_FALSE(net::SameServer(net::ServerIdentity{}, net::ServerIdentity{}))
      << "two unknown run ids are not a proof of one server";
}

TEST(ChecksTest, VersionOutputOfServerPrograms) {
  auto valkey = ParseVersionOutput(
      "Valkey server v=8.0.1 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=39f7c371e\n");
  ASSERT_TRUE(valkey);
  EXPECT_EQ(valkey->engine, "valkey");
  EXPECT_EQ(valkey->version, "8.0.1");
  auto redis = ParseVersionOutput("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0");
  ASSERT_TRUE(redis);
  EXPECT_EQ(redis->engine, "redis");
  EXPECT_EQ(redis->version, "7.0.15");
  EXPECT_FALSE(ParseVersionOutput("usage: something --version"));
  EXPECT_FALSE(ParseVersionOutput("Valkey server v= sha=0"));
  EXPECT_FALSE(ParseVersionOutput(""));
}

TEST(ChecksTest, VersionMatchesEveryComponentTheSpecGives) {
  EXPECT_TRUE(VersionMatches("8.0", "8.0.1"));
  EXPECT_TRUE(VersionMatches("8.0.1", "8.0.1"));
  EXPECT_TRUE(VersionMatches("", "7.2.4"));  // no version in the spec: any
  EXPECT_FALSE(VersionMatches("9.0", "8.0.1"));
  EXPECT_FALSE(VersionMatches("8.1", "8.0.1"));
  EXPECT_FALSE(VersionMatches("8.0.2", "8.0.1"));
  EXPECT_FALSE(VersionMatches("8.0", "8"));
  EXPECT_FALSE(VersionMatches("8.0", ""));
  EXPECT_FALSE(VersionMatches("8.0", "8.x"));
}

TEST(ChecksTest, EngineMismatchSaysWhatTheServerIs) {
  auto spec = ParseSpec(
      "name: t\nsource: {uri: redis://10.0.0.5:6379}\n"
      "target: {provider: local, version: \"8.0\"}\n",
      "/specs/t.yaml");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(EngineMismatch(*spec, "the target", "valkey", "8.0.1"), "");
  EXPECT_EQ(EngineMismatch(*spec, "the target", "redis", "7.0.15"),
            "the target is Redis 7.0.15, not Valkey: keyferry migrates to Valkey only");
  EXPECT_EQ(EngineMismatch(*spec, "the target", "valkey", "9.0.0"),
            "the target is Valkey 9.0.0, but target.version asks for 8.0");
  EXPECT_EQ(EngineMismatch(*spec, "the target", "valkey", ""),
            "the target is Valkey (version unknown), but target.version asks for 8.0");
}

TEST(ChecksTest, HookProgramIsTheFirstWord) {
  EXPECT_EQ(HookProgram("./switch.sh {uri}"), "./switch.sh");
  EXPECT_EQ(HookProgram("  /usr/local/bin/flip --to {host}:{port}"), "/usr/local/bin/flip");
  EXPECT_EQ(HookProgram("echo {uri} > /tmp/x"), "echo");
  EXPECT_EQ(HookProgram("ENV=prod TOKEN=x ./deploy.sh {uri}"), "./deploy.sh");
  EXPECT_EQ(HookProgram("\"./my switch.sh\" {uri}"), "./my switch.sh");
  EXPECT_EQ(HookProgram("'./quoted.sh' {uri}"), "./quoted.sh");
  EXPECT_EQ(HookProgram("kubectl patch svc cache -p x;echo done"), "kubectl");
  // Programs decided by the shell at run time: keyferry cannot tell.
  EXPECT_FALSE(HookProgram("$HOME/bin/switch.sh {uri}"));
  EXPECT_FALSE(HookProgram("(cd /srv && ./switch.sh)"));
  EXPECT_FALSE(HookProgram("if true; then ./a.sh; fi"));
  EXPECT_FALSE(HookProgram("exec ./switch.sh"));
  EXPECT_FALSE(HookProgram("~/switch.sh"));
  EXPECT_FALSE(HookProgram("\"$DIR/x\""));
  EXPECT_FALSE(HookProgram(""));
  EXPECT_TRUE(IsShellBuiltin("echo"));
  EXPECT_TRUE(IsShellBuiltin(":"));
  EXPECT_FALSE(IsShellBuiltin("switch.sh"));
}

TEST(ChecksTest, FindProgramRelativeToTheSpecOrOnPath) {
  TempDir dir;
  std::string script = dir.path() + "/switch.sh";
  std::ofstream(script) << "#!/bin/sh\n";
  auto not_executable = FindProgram("./switch.sh", dir.path());
  EXPECT_TRUE(not_executable.found);
  EXPECT_FALSE(not_executable.executable);
  EXPECT_EQ(not_executable.path, script);
  ::chmod(script.c_str(), 0755);
  auto found = FindProgram("./switch.sh", dir.path());
  EXPECT_TRUE(found.found && found.executable);
  EXPECT_FALSE(FindProgram("./missing.sh", dir.path()).found);
  EXPECT_EQ(FindProgram("./missing.sh", dir.path()).path, dir.path() + "/missing.sh");
  auto sh = FindProgram("sh", "/nowhere");  // PATH lookup, the base dir does not matter
  EXPECT_TRUE(sh.found && sh.executable) << sh.path;
  EXPECT_FALSE(FindProgram("keyferry-no-such-program", dir.path()).found);
}

TEST(ChecksTest, HookRunsInTheSpecsDirectory) {
  TempDir dir;
  auto spec = ParseSpec(
      "name: t\nsource: {uri: redis://10.0.0.5:6379}\n"
      "target: {provider: local}\ncutover:\n  hook: ./switch.sh {uri}\n",
      dir.path() + "/cache.yaml");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(fs::path(spec->spec_dir), fs::path(dir.path()));
  EXPECT_EQ(spec->ToJson().count("spec_dir"), 0u) << "not part of the fingerprint";
  std::string script = dir.path() + "/switch.sh";
  std::ofstream(script) << "#!/bin/sh\npwd\necho \"$1\"\n";
  ::chmod(script.c_str(), 0755);
  auto run = RunCutoverHook("./switch.sh hello", std::chrono::seconds(10), spec->spec_dir);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->exit_code, 0) << run->output;
  EXPECT_EQ(run->output, fs::canonical(dir.path()).string() + "\nhello\n");
  auto missing_dir = RunCutoverHook("true", std::chrono::seconds(10), dir.path() + "/nope");
  ASSERT_TRUE(missing_dir);
  EXPECT_EQ(missing_dir->exit_code, 126);
  EXPECT_NE(missing_dir->output.find("cannot enter the directory"), std::string::npos);
}

TEST(ChecksTest, RunProgramReportsExitCodesAndMissingPrograms) {
  auto version =
      RunProgram({"sh", "-c", "echo out; echo err >&2; exit 3"}, std::chrono::milliseconds(10000));
  ASSERT_TRUE(version);
  EXPECT_EQ(version->exit_code, 3);
  EXPECT_EQ(version->output, "out\nerr\n");
  auto missing = RunProgram({"/nonexistent/program", "--version"}, std::chrono::seconds(10));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->exit_code, 127);
  auto slow = RunProgram({"sleep", "5"}, std::chrono::milliseconds(200));
  ASSERT_TRUE(slow);
  EXPECT_TRUE(slow->timed_out);
}

TEST(CheckpointPathTest, RefusesWhatSaveCheckpointCouldNotWrite) {
  TempDir dir;
  EXPECT_TRUE(sync::CheckCheckpointPath(dir.path() + "/cp.json"));
  EXPECT_FALSE(fs::exists(dir.path() + "/cp.json")) << "the check leaves nothing behind";
  EXPECT_TRUE(fs::is_empty(dir.path()));
  auto missing = sync::CheckCheckpointPath("/nonexistent/dir/cp.json");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("the directory /nonexistent/dir does not exist"),
            std::string::npos)
      << missing.error().message;
  std::ofstream(dir.path() + "/file") << "x";
  auto under_file = sync::CheckCheckpointPath(dir.path() + "/file/cp.json");
  ASSERT_FALSE(under_file);
  EXPECT_NE(under_file.error().message.find("is not a directory"), std::string::npos);
  fs::create_directory(dir.path() + "/cp.json");
  auto is_dir = sync::CheckCheckpointPath(dir.path() + "/cp.json");
  ASSERT_FALSE(is_dir);
  EXPECT_NE(is_dir.error().message.find("not a regular file"), std::string::npos);
  if (::geteuid() != 0) {  // root writes anywhere
    fs::create_directory(dir.path() + "/ro");
    ::chmod((dir.path() + "/ro").c_str(), 0555);
    EXPECT_FALSE(sync::CheckCheckpointPath(dir.path() + "/ro/cp.json"));
  }
}

TEST(PhaseStatusTest, AwaitingConfirmationRoundTrips) {
  EXPECT_EQ(PhaseStatusName(PhaseStatus::kAwaitingConfirmation), "awaiting-confirmation");
  EXPECT_EQ(ParsePhaseStatus("awaiting-confirmation"), PhaseStatus::kAwaitingConfirmation);
}

}  // namespace
}  // namespace kf::control
