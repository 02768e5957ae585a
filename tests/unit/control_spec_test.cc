// Spec parsing and validation: the examples, defaults, every refusal (each with its line,
// column and hint), secrets handling, URIs from the environment, the hook, and the
// fingerprint's stability.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "control/control_errc.h"
#include "control/spec.h"

namespace kf::control {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kExamples = std::string(KF_TEST_DATA_DIR) + "/../../examples";

// The message of a spec that must be refused (with the code checked when given).
std::string Refusal(std::string_view yaml, ControlErrc code = ControlErrc::kSpecInvalid) {
  auto spec = ParseSpec(yaml, "t.yaml");
  if (spec) {
    ADD_FAILURE() << "accepted a spec that should be refused:\n" << yaml;
    return "";
  }
  EXPECT_EQ(spec.error().code, make_error_code(code)) << spec.error().message;
  return spec.error().message;
}

Spec Accepted(std::string_view yaml) {
  auto spec = ParseSpec(yaml, "/specs/t.yaml");
  if (!spec) {
    ADD_FAILURE() << "refused:\n" << spec.error().message;
    return Spec{};
  }
  return *spec;
}

constexpr std::string_view kMinimal =
    "name: demo\n"
    "source:\n"
    "  uri: redis://127.0.0.1:6379\n"
    "target:\n"
    "  provider: local\n";

// ---------------------------------------------------------------------------------------
// Examples and defaults

TEST(ControlSpec, LocalExampleParses) {
  auto spec = LoadSpec(kExamples + "/cache.yaml");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->name, "sessions-cache");
  std::string examples_dir = std::filesystem::absolute(kExamples).lexically_normal().string();
  if (examples_dir.back() == '/') examples_dir.pop_back();
  EXPECT_EQ(spec->state_dir, examples_dir + "/keyferry-state/sessions-cache");
  EXPECT_EQ(spec->source.uri, "redis://127.0.0.1:6379");
  EXPECT_EQ(spec->source.user, "keyferry");
  EXPECT_EQ(spec->source.password_env, "REDIS_PASSWORD");
  EXPECT_EQ(spec->target.engine, "valkey");
  EXPECT_EQ(spec->target.version, "8.0");
  EXPECT_EQ(spec->target.provider, ProviderKind::kLocal);
  EXPECT_EQ(spec->target.local.port, 6390);
  EXPECT_EQ(spec->target.local.bind, "127.0.0.1");
  EXPECT_EQ(spec->target.local.maxmemory, 256u << 20);
  EXPECT_EQ(spec->target.local.persistence, Persistence::kRdb);
  EXPECT_EQ(spec->target.local.valkey_server, "valkey-server");
  EXPECT_EQ(spec->target.local.extra_config.at("lazyfree-lazy-user-del"), "yes");
  EXPECT_EQ(spec->target.local.extra_config.at("hz"), "20");
  EXPECT_EQ(spec->migration.write_pause, WritePause::kAtCutover);
  EXPECT_EQ(spec->migration.max_pause_ms, 5000);
  EXPECT_EQ(spec->migration.catch_up_max_lag_bytes, 1u << 20);
  EXPECT_EQ(spec->migration.verify, VerifyMode::kFull);
  EXPECT_EQ(spec->migration.verify_rounds, 3);
  EXPECT_EQ(spec->migration.on_unsupported, sync::OnUnsupported::kFail);
  EXPECT_EQ(spec->migration.big_key_threshold, uint64_t{64} << 20);
  EXPECT_EQ(spec->migration.writers, 2);
  EXPECT_EQ(spec->cutover.hook, "./switch-app-config.sh --redis-url {uri}");
  EXPECT_EQ(spec->cutover.hook_timeout_s, 60);
  EXPECT_EQ(spec->after_cutover.source, SourceAfterCutover::kShutdown);
}

TEST(ControlSpec, ExternalExampleParses) {
  auto spec = LoadSpec(kExamples + "/cache-external.yaml");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->name, "orders-cache");
  EXPECT_EQ(spec->target.provider, ProviderKind::kExternal);
  EXPECT_EQ(spec->target.external.uri, "redis://valkey-orders.internal:6379");
  EXPECT_EQ(spec->target.external.user, "keyferry");
  EXPECT_EQ(spec->target.external.password_env, "ORDERS_VALKEY_PASSWORD");
  EXPECT_EQ(spec->migration.max_pause_ms, 3000);
  EXPECT_EQ(spec->migration.verify, VerifyMode::kSample);
  EXPECT_DOUBLE_EQ(spec->migration.verify_sample_rate, 0.05);
  EXPECT_EQ(spec->cutover.hook, "consul kv put service/orders/cache \"{host}:{port}\"");
  EXPECT_EQ(spec->cutover.hook_timeout_s, 30);
  EXPECT_EQ(spec->after_cutover.source, SourceAfterCutover::kKeep);
}

TEST(ControlSpec, ClusterExampleParses) {
  auto spec = LoadSpec(kExamples + "/cluster.yaml");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->target.topology, Topology::kCluster);
  EXPECT_EQ(spec->target.provider, ProviderKind::kLocal);
  EXPECT_EQ(spec->target.local.shards, 3);
  EXPECT_EQ(spec->target.local.replicas_per_shard, 0);
  EXPECT_EQ(spec->target.local.maxmemory, 256u << 20);
  EXPECT_EQ(spec->cutover.hook, "./switch-app-config.sh --redis-cluster {nodes}");
}

TEST(ControlSpec, BackupExampleParses) {
  auto spec = LoadSpec(kExamples + "/backup.yaml");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_TRUE(spec->source.is_file());
  EXPECT_EQ(spec->source.rdb_file,
            (std::filesystem::path(kExamples) / "backups/dump.rdb").lexically_normal().string());
  EXPECT_EQ(spec->migration.on_unsupported, sync::OnUnsupported::kDropFieldTtl);
}

TEST(ControlSpec, MinimalExampleTakesEveryDefault) {
  auto spec = LoadSpec(kExamples + "/minimal.yaml");
  ASSERT_TRUE(spec) << spec.error().message;
  Spec defaults = Accepted(kMinimal);
  // Same fields as the inline minimal spec apart from where it lives.
  auto a = spec->ToJson(), b = defaults.ToJson();
  for (auto* j : {&a, &b}) {
    j->erase("origin");
    j->erase("state_dir");
  }
  EXPECT_EQ(a, b);
  EXPECT_EQ(defaults.state_dir, "/specs/keyferry-state/demo");
  EXPECT_EQ(defaults.source.uri, "redis://127.0.0.1:6379");
  EXPECT_EQ(defaults.target.version, "");
  EXPECT_EQ(defaults.target.local.port, 0);
  EXPECT_EQ(defaults.target.local.bind, "127.0.0.1");
  EXPECT_EQ(defaults.target.local.maxmemory, 0u);
  EXPECT_EQ(defaults.target.local.persistence, Persistence::kNone);
  EXPECT_EQ(defaults.target.local.valkey_server, "valkey-server");
  EXPECT_TRUE(defaults.target.local.extra_config.empty());
  EXPECT_EQ(defaults.migration.write_pause, WritePause::kAtCutover);
  EXPECT_EQ(defaults.migration.max_pause_ms, 5000);
  EXPECT_EQ(defaults.migration.catch_up_max_lag_bytes, 1u << 20);
  EXPECT_EQ(defaults.migration.verify, VerifyMode::kFull);
  EXPECT_EQ(defaults.migration.verify_rounds, 3);
  EXPECT_EQ(defaults.migration.on_unsupported, sync::OnUnsupported::kFail);
  EXPECT_EQ(defaults.migration.big_key_threshold, uint64_t{64} << 20);
  EXPECT_EQ(defaults.migration.writers, 2);
  EXPECT_EQ(defaults.cutover.hook, "");
  EXPECT_EQ(defaults.cutover.hook_timeout_s, 60);
  EXPECT_EQ(defaults.after_cutover.source, SourceAfterCutover::kShutdown);
}

TEST(ControlSpec, EveryFieldSet) {
  Spec s = Accepted(
      "name: all-fields-1\n"
      "state_dir: ../state/x\n"
      "source: {uri: \"redis://[::1]:7000\", user: mover, password_env: SRC_PW}\n"
      "target:\n"
      "  engine: valkey\n"
      "  version: 8.1.2\n"
      "  topology: standalone\n"
      "  provider: local\n"
      "  local:\n"
      "    port: 7001\n"
      "    bind: 0.0.0.0\n"
      "    maxmemory: 2GB\n"
      "    persistence: aof\n"
      "    valkey_server: bin/valkey-server\n"
      "    password_env: DST_PW\n"
      "    extra_config: {hz: 20, io-threads: 4}\n"
      "migration:\n"
      "  write_pause: read-only\n"
      "  max_pause_ms: 100\n"
      "  verify: sample:0.25\n"
      "  verify_rounds: 5\n"
      "  on_unsupported: drop-field-ttl\n"
      "  big_key_threshold: 512mb\n"
      "  writers: 64\n"
      "cutover: {hook: 'echo ${HOME} {a,b} {host}', hook_timeout_s: 5}\n"
      "after_cutover: {source: keep}\n");
  EXPECT_EQ(s.state_dir, "/state/x");
  EXPECT_EQ(s.source.uri, "redis://[::1]:7000");
  EXPECT_EQ(s.target.version, "8.1.2");
  EXPECT_EQ(s.target.local.maxmemory, uint64_t{2} << 30);
  EXPECT_EQ(s.target.local.persistence, Persistence::kAof);
  EXPECT_EQ(s.target.local.valkey_server, "/specs/bin/valkey-server");
  EXPECT_EQ(s.target.local.password_env, "DST_PW");
  EXPECT_EQ(s.target.local.extra_config.at("io-threads"), "4");
  EXPECT_EQ(s.migration.write_pause, WritePause::kReadOnly);
  EXPECT_EQ(s.migration.max_pause_ms, 100);
  EXPECT_EQ(s.migration.verify, VerifyMode::kSample);
  EXPECT_DOUBLE_EQ(s.migration.verify_sample_rate, 0.25);
  EXPECT_EQ(s.migration.verify_rounds, 5);
  EXPECT_EQ(s.migration.on_unsupported, sync::OnUnsupported::kDropFieldTtl);
  EXPECT_EQ(s.migration.big_key_threshold, uint64_t{512} << 20);
  EXPECT_EQ(s.migration.writers, 64);
  EXPECT_EQ(s.cutover.hook_timeout_s, 5);
  EXPECT_EQ(s.after_cutover.source, SourceAfterCutover::kKeep);
  auto j = s.ToJson();
  EXPECT_EQ(j["migration"]["verify"], "sample:0.25");
  EXPECT_EQ(j["migration"]["write_pause"], "read-only");
  EXPECT_EQ(j["target"]["local"]["persistence"], "aof");
  EXPECT_FALSE(j["target"].contains("external"));
}

TEST(ControlSpec, StateDirAbsoluteAndRelativeToTheSpecFile) {
  std::string base = "name: a\nsource: {uri: redis://h:1}\ntarget: {provider: local}\n";
  EXPECT_EQ(Accepted("state_dir: /var/lib/kf\n" + base).state_dir, "/var/lib/kf");
  EXPECT_EQ(Accepted("state_dir: run/./kf/\n" + base).state_dir, "/specs/run/kf/");
  // No directory in the origin: relative to the current directory.
  auto spec = ParseSpec(base, "t.yaml");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->state_dir,
            (std::filesystem::current_path() / "keyferry-state/a").lexically_normal().string());
}

// ---------------------------------------------------------------------------------------
// Refusals: unknown keys, types, values

TEST(ControlSpec, UnknownKeySuggestsTheNearestKey) {
  std::string m = Refusal(
      "name: demo\n"
      "source:\n"
      "  uri: redis://127.0.0.1:6379\n"
      "target:\n"
      "  provder: local\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:5:3: unknown key \"provder\" under target; did you mean "
                           "\"provider\"?"));
  // The missing provider is reported too, in the same pass.
  EXPECT_THAT(m, HasSubstr("t.yaml:4:1: target.provider is missing"));
}

TEST(ControlSpec, UnknownKeyNamesTheSectionItBelongsTo) {
  std::string m = Refusal(
      "name: demo\n"
      "source: {uri: redis://127.0.0.1:6379}\n"
      "target:\n"
      "  provider: external\n"
      "  uri: redis://10.0.0.2:6379\n"
      "port: 7000\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:5:3: unknown key \"uri\" under target; \"uri\" belongs under "
                           "target.external"));
  EXPECT_THAT(m, HasSubstr("t.yaml:6:1: unknown key \"port\" at the top level; \"port\" belongs "
                           "under target.local"));
  EXPECT_THAT(m, HasSubstr("provider is external but target.external is missing"));
}

TEST(ControlSpec, UnknownKeyWithoutNeighbourListsKnownKeys) {
  std::string m = Refusal(std::string(kMinimal) + "cutover:\n  zzzzzz: 1\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:7:3: unknown key \"zzzzzz\" under cutover; known keys under "
                           "cutover: hook, hook_timeout_s"));
}

TEST(ControlSpec, CaseAndDashTyposAreSuggested) {
  std::string m = Refusal(std::string(kMinimal) + "migration:\n  Max-Pause-MS: 10\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:7:3: unknown key \"Max-Pause-MS\" under migration; did you "
                           "mean \"max_pause_ms\"?"));
}

TEST(ControlSpec, PasswordKeyPointsToPasswordEnv) {
  std::string m = Refusal(
      "name: demo\n"
      "source:\n"
      "  uri: redis://127.0.0.1:6379\n"
      "  password: hunter2\n"
      "target: {provider: local}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:4:3: unknown key \"password\" under source; passwords never "
                           "go in the spec"));
  EXPECT_THAT(m, HasSubstr("password_env"));
  EXPECT_THAT(m, Not(HasSubstr("hunter2")));
}

TEST(ControlSpec, DuplicateKeyIsRefused) {
  std::string m = Refusal(
      "name: demo\n"
      "source: {uri: redis://127.0.0.1:6379}\n"
      "target: {provider: local}\n"
      "name: other\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:4:1: duplicate key \"name\" under the spec; it is already "
                           "given at line 1"));
}

TEST(ControlSpec, RequiredFieldsAreNamed) {
  std::string m = Refusal("state_dir: /x\n");
  EXPECT_THAT(m, HasSubstr("name is missing; add name: my-cache at the top level"));
  EXPECT_THAT(m, HasSubstr("source is missing"));
  EXPECT_THAT(m, HasSubstr("target is missing"));
  m = Refusal("name: a\nsource:\n  user: x\ntarget: {provider: local}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:2:1: source.uri is missing; add uri: redis://host:port under "
                           "source"));
  m = Refusal("name: a\nsource:\ntarget: {provider: local}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:2:1: source is missing"));
}

TEST(ControlSpec, BadNamesAreRefused) {
  for (std::string name : {"Cache", "my_cache", "-x", "\"\"", "a b"}) {
    std::string m = Refusal("name: " + name +
                            "\nsource: {uri: redis://h:1}\ntarget: "
                            "{provider: local}\n");
    EXPECT_THAT(m, HasSubstr("t.yaml:1:7: name")) << name;
    EXPECT_THAT(m, HasSubstr("use lower case letters, digits and '-'")) << name;
  }
  EXPECT_THAT(Refusal("name: " + std::string(64, 'a') +
                      "\nsource: {uri: redis://h:1}\ntarget: {provider: local}\n"),
              HasSubstr("at most 63"));
}

TEST(ControlSpec, WrongTypesAreRefused) {
  std::string m = Refusal(std::string(kMinimal) + "  local:\n    port: [1, 2]\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:7:11: target.local.port must be a single value, not a list"));
  m = Refusal(std::string(kMinimal) + "  local:\n    port: abc\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:7:11: target.local.port must be a whole number, not \"abc\"; "
                           "use a number from 0 to 65535"));
  m = Refusal(std::string(kMinimal) + "  local:\n    port: 70000\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:7:11: target.local.port is 70000, out of range"));
  m = Refusal("name: a\nsource: redis://h:1\ntarget: {provider: local}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:2:9: source must be a mapping of keys, not a single value"));
  m = Refusal("name: a\nsource: {uri: redis://h:1}\ntarget: [local]\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:3:9: target must be a mapping of keys, not a list"));
  m = Refusal("- name: a\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:1:1: the spec must be a mapping of keys, not a list"));
  m = Refusal("name: {x: 1}\nsource: {uri: redis://h:1}\ntarget: {provider: local}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:1:7: name must be a single value, not a mapping"));
}

// ---------------------------------------------------------------------------------------
// Source and URIs

TEST(ControlSpec, PasswordInUriIsRefusedWithoutEchoingIt) {
  std::string m = Refusal(
      "name: demo\n"
      "source:\n"
      "  uri: redis://app:s3cr3t@10.0.0.1:6379\n"
      "target: {provider: local}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:3:8: source.uri holds a password; passwords never go in the "
                           "spec"));
  EXPECT_THAT(m, HasSubstr("set source.password_env"));
  EXPECT_THAT(m, Not(HasSubstr("s3cr3t")));
  m = Refusal(
      "name: demo\nsource: {uri: redis://h:1}\n"
      "target: {provider: external, external: {uri: 'redis://:pw9@10.0.0.2'}}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:3:46: target.external.uri holds a password"));
  EXPECT_THAT(m, Not(HasSubstr("pw9")));
}

TEST(ControlSpec, UserInUriPointsToUserField) {
  std::string m = Refusal("name: a\nsource: {uri: redis://bob@h:1}\ntarget: {provider: local}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:2:15: source.uri holds a user name; write redis://host:port "
                           "and set source.user: bob instead"));
}

TEST(ControlSpec, BadUrisAreRefused) {
  std::string m = Refusal("name: a\nsource: {uri: redis://h:1/3}\ntarget: {provider: local}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:2:15: source.uri names database 3; keyferry moves every "
                           "database"));
  m = Refusal("name: a\nsource: {uri: 'http://h:1'}\ntarget: {provider: local}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:2:15: source.uri: bad server URI"));
  EXPECT_THAT(m, HasSubstr("write it as redis://host:port"));
  m = Refusal("name: a\nsource: {uri: 'redis://h:99999'}\ntarget: {provider: local}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:2:15: source.uri: bad server URI"));
  m = Refusal("name: a\nsource: {uri: 'redis://h$(rm):1'}\ntarget: {provider: local}\n");
  EXPECT_THAT(m, HasSubstr("which is not a host name or IP"));
}

TEST(ControlSpec, PasswordEnvMustBeAVariableName) {
  std::string m = Refusal(
      "name: a\nsource: {uri: redis://h:1, password_env: 'my pass!'}\n"
      "target: {provider: local}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:2:42: source.password_env is not an environment variable "
                           "name; it names the variable that holds the password"));
  EXPECT_THAT(m, Not(HasSubstr("my pass!")));
  EXPECT_THAT(Refusal("name: a\nsource: {uri: redis://h:1, user: 'a b'}\n"
                      "target: {provider: local}\n"),
              HasSubstr("source.user is \"a b\"; an ACL user name is one word"));
}

// ---------------------------------------------------------------------------------------
// Target

TEST(ControlSpec, EngineNotSupportedAndTopologyChecked) {
  std::string m = Refusal(
      "name: a\nsource: {uri: redis://h:1}\n"
      "target:\n  engine: redis\n  provider: local\n",
      ControlErrc::kSpecUnsupported);
  EXPECT_THAT(m, HasSubstr("t.yaml:4:11: target.engine \"redis\" is not supported; keyferry "
                           "moves Redis to Valkey: use engine: valkey"));
  m = Refusal(
      "name: a\nsource: {uri: redis://h:1}\ntarget:\n  topology: sharded\n"
      "  provider: local\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:4:13: target.topology is \"sharded\"; use one of: "
                           "standalone, cluster"));
}

// topology: cluster (issue #11): shards and replicas_per_shard with their defaults and
// bounds, only for a cluster; a fixed port is refused (one port per node); {nodes} is a
// placeholder of the hook.
TEST(ControlSpec, ClusterTopologyAndItsFields) {
  Spec spec = Accepted(
      "name: a\nsource: {uri: redis://h:1}\n"
      "target:\n  topology: cluster\n  provider: local\n");
  EXPECT_EQ(spec.target.topology, Topology::kCluster);
  EXPECT_EQ(spec.target.local.shards, 3);
  EXPECT_EQ(spec.target.local.replicas_per_shard, 0);
  EXPECT_EQ(spec.ToJson()["target"]["topology"], "cluster");
  EXPECT_EQ(spec.ToJson()["target"]["local"]["shards"], 3);
  spec = Accepted(
      "name: a\nsource: {uri: redis://h:1}\n"
      "target:\n  topology: cluster\n  provider: local\n"
      "  local: {shards: 16, replicas_per_shard: 2}\n"
      "cutover:\n  hook: \"./switch.sh {uri} {nodes}\"\n");
  EXPECT_EQ(spec.target.local.shards, 16);
  EXPECT_EQ(spec.target.local.replicas_per_shard, 2);
  net::Uri seed;
  seed.host = "127.0.0.1";
  seed.port = 7000;
  EXPECT_EQ(spec.HookCommand(seed, "127.0.0.1:7000,127.0.0.1:7001"),
            "./switch.sh redis://127.0.0.1:7000 127.0.0.1:7000,127.0.0.1:7001");
  EXPECT_EQ(spec.HookCommand(seed), "./switch.sh redis://127.0.0.1:7000 127.0.0.1:7000");
  // A standalone spec's JSON (its fingerprint) holds no cluster field.
  Spec standalone = Accepted("name: a\nsource: {uri: redis://h:1}\ntarget: {provider: local}\n");
  EXPECT_FALSE(standalone.ToJson()["target"]["local"].contains("shards"));
  std::string m = Refusal(
      "name: a\nsource: {uri: redis://h:1}\n"
      "target:\n  topology: cluster\n  provider: local\n  local: {shards: 17}\n");
  EXPECT_THAT(m, HasSubstr("target.local.shards"));
  m = Refusal(
      "name: a\nsource: {uri: redis://h:1}\n"
      "target:\n  topology: cluster\n  provider: local\n  local: {replicas_per_shard: 3}\n");
  EXPECT_THAT(m, HasSubstr("target.local.replicas_per_shard"));
  m = Refusal(
      "name: a\nsource: {uri: redis://h:1}\n"
      "target:\n  provider: local\n  local: {shards: 2}\n");
  EXPECT_THAT(m, HasSubstr("target.local.shards is given but target.topology is standalone"));
  m = Refusal(
      "name: a\nsource: {uri: redis://h:1}\n"
      "target:\n  topology: cluster\n  provider: local\n  local: {port: 7000}\n");
  EXPECT_THAT(m, HasSubstr("a cluster target has one port per node"));
  m = Refusal(
      "name: a\nsource: {uri: redis://h:1}\n"
      "target:\n  topology: cluster\n  provider: local\n"
      "  local: {extra_config: {cluster-port: \"7001\"}}\n");
  EXPECT_THAT(m, HasSubstr("extra_config sets \"cluster-port\", which keyferry controls"));
}

TEST(ControlSpec, VersionsAreChecked) {
  auto with_version = [](std::string v) {
    return "name: a\nsource: {uri: redis://h:1}\ntarget:\n  version: " + v +
           "\n  provider: local\n";
  };
  EXPECT_EQ(Accepted(with_version("8.0")).target.version, "8.0");  // unquoted: kept as text
  EXPECT_EQ(Accepted(with_version("\"7.2\"")).target.version, "7.2");
  EXPECT_THAT(Refusal(with_version("\"7.0\"")),
              HasSubstr("t.yaml:4:12: target.version 7.0 predates Valkey; Valkey versions "
                        "start at 7.2"));
  for (std::string bad : {"eight", "8", "8.0.0.1", "8.x", "'8.-1'", "'8..0'"}) {
    EXPECT_THAT(Refusal(with_version(bad)), HasSubstr("is not a version number")) << bad;
  }
}

TEST(ControlSpec, ProviderSectionsMustMatchTheProvider) {
  std::string m = Refusal(
      "name: a\nsource: {uri: redis://h:1}\n"
      "target:\n"
      "  provider: local\n"
      "  external:\n"
      "    uri: redis://10.0.0.9:6379\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:5:3: target.external is given but provider is local; remove "
                           "the external section, or set provider: external"));
  m = Refusal(
      "name: a\nsource: {uri: redis://h:1}\n"
      "target:\n"
      "  provider: external\n"
      "  local: {port: 1}\n"
      "  external: {uri: redis://h2:1}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:5:3: target.local is given but provider is external"));
  m = Refusal("name: a\nsource: {uri: redis://h:1}\ntarget:\n  provider: externl\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:4:13: target.provider is \"externl\"; did you mean "
                           "\"external\"?"));
  m = Refusal(
      "name: a\nsource: {uri: redis://h:1}\ntarget:\n  provider: external\n"
      "  external: {user: x}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:5:3: target.external.uri is missing"));
}

TEST(ControlSpec, TargetCannotBeTheSource) {
  std::string m = Refusal(
      "name: a\nsource: {uri: redis://127.0.0.1:6379}\n"
      "target:\n  provider: external\n  external: {uri: 'redis://localhost'}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:5:19: target.external.uri localhost:6379 is the source "
                           "itself"));
  m = Refusal(
      "name: a\nsource: {uri: redis://127.0.0.1:6379}\n"
      "target:\n  provider: local\n  local: {port: 6379}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:5:17: target.local.port 6379 is the port of the source on "
                           "this machine"));
  // A remote source may use the same port number.
  Accepted(
      "name: a\nsource: {uri: redis://10.1.1.1:6379}\n"
      "target:\n  provider: local\n  local: {port: 6379}\n");
}

TEST(ControlSpec, LocalSizesAndPersistence) {
  std::string base = std::string(kMinimal) + "  local:\n";
  EXPECT_THAT(Refusal(base + "    maxmemory: lots\n"),
              HasSubstr("t.yaml:7:16: target.local.maxmemory is \"lots\", not a size; write a "
                        "number of bytes or a number with a unit"));
  EXPECT_THAT(Refusal(base + "    maxmemory: 256 mb\n"), HasSubstr("not a size"));
  EXPECT_THAT(Refusal(base + "    maxmemory: 512k\n"),
              HasSubstr("t.yaml:7:16: target.local.maxmemory 512k is below 1mb"));
  EXPECT_EQ(Accepted(base + "    maxmemory: 0\n").target.local.maxmemory, 0u);
  EXPECT_EQ(Accepted(base + "    maxmemory: 3g\n").target.local.maxmemory, 3000000000u);
  EXPECT_THAT(Refusal(base + "    persistence: rbd\n"),
              HasSubstr("t.yaml:7:18: target.local.persistence is \"rbd\"; did you mean "
                        "\"rdb\"? (use one of: none, rdb, aof)"));
  EXPECT_THAT(Refusal(base + "    valkey_server: ''\n"),
              HasSubstr("target.local.valkey_server is empty"));
}

TEST(ControlSpec, ExtraConfigRules) {
  std::string base = std::string(kMinimal) + "  local:\n    extra_config:\n";
  EXPECT_THAT(Refusal(base + "      port: 7000\n"),
              HasSubstr("t.yaml:8:7: extra_config sets \"port\", which keyferry controls; set "
                        "target.local.port instead"));
  EXPECT_THAT(Refusal(base + "      dir: /tmp\n"),
              HasSubstr("keyferry keeps the server's files under the state dir"));
  EXPECT_THAT(Refusal(base + "      appendonly: 'yes'\n"),
              HasSubstr("set target.local.persistence instead"));
  EXPECT_THAT(Refusal(base + "      maxmemory-policy: allkeys-lru\n"),
              HasSubstr("keyferry runs the target with noeviction"));
  EXPECT_THAT(Refusal(base + "      Max_Clients: 10\n"),
              HasSubstr("t.yaml:8:7: extra_config option \"Max_Clients\" is not an option name"));
  EXPECT_THAT(Refusal(base + "      maxclients: [1]\n"),
              HasSubstr("t.yaml:8:19: extra_config option \"maxclients\" has no single value"));
  EXPECT_THAT(Refusal(std::string(kMinimal) + "  local:\n    extra_config: [a]\n"),
              HasSubstr("t.yaml:7:19: target.local.extra_config must be a mapping"));
}

TEST(ControlSpec, NonLoopbackBindNeedsAPassword) {
  std::string base = std::string(kMinimal) + "  local:\n    bind: 0.0.0.0\n";
  EXPECT_THAT(Refusal(base), HasSubstr("t.yaml:7:11: target.local.bind 0.0.0.0 accepts other "
                                       "hosts, but without a password Valkey's protected mode "
                                       "refuses them; set target.local.password_env"));
  Accepted(base + "    password_env: VALKEY_PW\n");
  Accepted(base + "    extra_config: {protected-mode: 'no'}\n");
  Accepted(std::string(kMinimal) + "  local:\n    bind: ::1\n");
  EXPECT_THAT(Refusal(std::string(kMinimal) + "  local:\n    bind: '10.0.0.1 10.0.0.2'\n"),
              HasSubstr("give one IP address"));
}

// ---------------------------------------------------------------------------------------
// Migration, cutover, after_cutover

TEST(ControlSpec, MigrationValues) {
  std::string base = std::string(kMinimal) + "migration:\n";
  EXPECT_THAT(Refusal(base + "  write_pause: readonly\n"),
              HasSubstr("t.yaml:7:16: migration.write_pause is \"readonly\"; did you mean "
                        "\"read-only\"?"));
  EXPECT_THAT(Refusal(base + "  max_pause_ms: 50\n"),
              HasSubstr("t.yaml:7:17: migration.max_pause_ms is 50, out of range; use a number "
                        "from 100 to 600000 (milliseconds)"));
  EXPECT_THAT(Refusal(base + "  verify_rounds: 0\n"),
              HasSubstr("migration.verify_rounds is 0, out of range"));
  EXPECT_THAT(Refusal(base + "  writers: 0\n"), HasSubstr("migration.writers is 0, out of range"));
  EXPECT_THAT(Refusal(base + "  on_unsupported: ignore\n"),
              HasSubstr("t.yaml:7:19: migration.on_unsupported is \"ignore\"; use one of: fail, "
                        "skip, drop-field-ttl"));
  EXPECT_THAT(Refusal(base + "  catch_up_max_lag_bytes: -1\n"), HasSubstr("not a size"));
  EXPECT_EQ(Accepted(base + "  catch_up_max_lag_bytes: 0\n").migration.catch_up_max_lag_bytes, 0u);
  EXPECT_EQ(Accepted(base + "  catch_up_max_lag_bytes: 64kb\n").migration.catch_up_max_lag_bytes,
            65536u);
}

TEST(ControlSpec, VerifyModes) {
  std::string base = std::string(kMinimal) + "migration:\n  verify: ";
  EXPECT_EQ(Accepted(base + "keys\n").migration.verify, VerifyMode::kKeys);
  EXPECT_EQ(Accepted(base + "full\n").migration.verify, VerifyMode::kFull);
  Spec s = Accepted(base + "sample:1\n");
  EXPECT_EQ(s.migration.verify, VerifyMode::kSample);
  EXPECT_DOUBLE_EQ(s.migration.verify_sample_rate, 1.0);
  for (std::string bad : {"sample:0", "sample:1.5", "sample:x", "sample:", "sample:-0.1",
                          "sample:nan", "sample:1e-999"}) {
    EXPECT_THAT(Refusal(base + "'" + bad + "'\n"),
                HasSubstr("t.yaml:7:11: migration.verify \"" + bad + "\" has a bad sample rate"))
        << bad;
  }
  EXPECT_THAT(Refusal(base + "ful\n"),
              HasSubstr("t.yaml:7:11: migration.verify is \"ful\"; did you mean \"full\"? use "
                        "full, keys or sample:RATE"));
}

TEST(ControlSpec, BigKeyThresholdBounds) {
  std::string base = std::string(kMinimal) + "migration:\n  big_key_threshold: ";
  EXPECT_THAT(Refusal(base + "1gb\n"),
              HasSubstr("t.yaml:7:22: migration.big_key_threshold 1gb is above 512mb"));
  EXPECT_THAT(Refusal(base + "100\n"),
              HasSubstr("migration.big_key_threshold is 100, out of range; use a size from 1024"));
  EXPECT_EQ(Accepted(base + "1mb\n").migration.big_key_threshold, 1u << 20);
}

TEST(ControlSpec, ReadOnlyHasNoLagToBound) {
  std::string m = Refusal(std::string(kMinimal) +
                          "migration:\n  write_pause: read-only\n  catch_up_max_lag_bytes: 1mb\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:8:3: migration.catch_up_max_lag_bytes is set but write_pause "
                           "is read-only"));
}

TEST(ControlSpec, HookPlaceholders) {
  std::string base = std::string(kMinimal) + "cutover:\n  hook: ";
  EXPECT_THAT(Refusal(base + "'switch --to {hots}:{port}'\n"),
              HasSubstr("t.yaml:7:9: cutover.hook uses the unknown placeholder {hots}; did you "
                        "mean {host}? the placeholders are {host}, {port}, {uri} and {nodes}"));
  EXPECT_THAT(Refusal(base + "'x {endpoint}'\n"),
              HasSubstr("unknown placeholder {endpoint}; the placeholders are"));
  EXPECT_EQ(Accepted(base + "'echo ${PATH} {a,b} {} {host}'\n").cutover.hook,
            "echo ${PATH} {a,b} {} {host}");
  EXPECT_THAT(Refusal(std::string(kMinimal) + "cutover:\n  hook_timeout_s: 0\n"),
              HasSubstr("cutover.hook_timeout_s is 0, out of range"));
  EXPECT_THAT(Refusal(std::string(kMinimal) + "after_cutover:\n  source: delete\n"),
              HasSubstr("t.yaml:7:11: after_cutover.source is \"delete\"; use one of: shutdown, "
                        "keep"));
}

// ---------------------------------------------------------------------------------------
// Files and YAML

TEST(ControlSpec, YamlSyntaxErrorsHaveAPosition) {
  std::string m =
      Refusal("name: demo\nsource: {uri: redis://h:1\ntarget: x\n", ControlErrc::kSpecSyntax);
  EXPECT_THAT(m, HasSubstr("t.yaml:"));
  EXPECT_THAT(m, HasSubstr("not valid YAML"));
  m = Refusal("name: demo\n  bad indent: 1\n", ControlErrc::kSpecSyntax);
  EXPECT_THAT(m, HasSubstr("t.yaml:2:"));
}

TEST(ControlSpec, EmptyAndMultiDocumentFiles) {
  EXPECT_THAT(Refusal(""), HasSubstr("t.yaml: the spec is empty; start from examples/cache.yaml"));
  EXPECT_THAT(Refusal("# only a comment\n"), HasSubstr("the spec is empty"));
  EXPECT_THAT(Refusal(std::string(kMinimal) + "---\nname: b\n"),
              HasSubstr("more than one YAML document"));
}

TEST(ControlSpec, EveryProblemIsReportedOnce) {
  std::string m = Refusal(
      "name: Bad\n"
      "source: {uri: redis://h:1, colour: red}\n"
      "target: {provider: local, local: {port: x}}\n");
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 2) << m;
  EXPECT_THAT(m, HasSubstr("t.yaml:1:7: name"));
  EXPECT_THAT(m, HasSubstr("t.yaml:2:28: unknown key \"colour\" under source"));
  EXPECT_THAT(m, HasSubstr("t.yaml:3:41: target.local.port must be a whole number"));
}

TEST(ControlSpec, LoadSpecErrors) {
  auto missing = LoadSpec("/nonexistent/dir/cache.yaml");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, make_error_code(ControlErrc::kSpecUnreadable));
  EXPECT_THAT(missing.error().message,
              HasSubstr("cannot read the spec /nonexistent/dir/cache.yaml"));
  std::string dir = ::testing::TempDir() + "kf-spec-test";
  std::filesystem::create_directories(dir);
  std::string path = dir + "/bad.yaml";
  std::ofstream(path) << "name: a\nsourc: {}\n";
  auto bad = LoadSpec(path);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr(path + ":2:1: unknown key \"sourc\" at the top "
                                                    "level; did you mean \"source\"?"));
  std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------------------------------
// Credentials, hook, JSON and fingerprint

TEST(ControlSpec, SourceUriReadsThePasswordFromTheEnvironment) {
  Spec s = Accepted(
      "name: a\nsource: {uri: redis://10.0.0.1:7000, user: mover, password_env: KF_TEST_SRC_PW}\n"
      "target: {provider: local}\n");
  ::unsetenv("KF_TEST_SRC_PW");
  auto missing = s.SourceUri();
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, make_error_code(ControlErrc::kEnvMissing));
  EXPECT_THAT(missing.error().message,
              HasSubstr("source.password_env names the environment variable KF_TEST_SRC_PW, "
                        "which is not set"));
  ::setenv("KF_TEST_SRC_PW", "", 1);
  EXPECT_FALSE(s.SourceUri());
  ::setenv("KF_TEST_SRC_PW", "p@ss:w/rd", 1);
  auto uri = s.SourceUri();
  ASSERT_TRUE(uri) << uri.error().message;
  EXPECT_EQ(uri->host, "10.0.0.1");
  EXPECT_EQ(uri->port, 7000);
  EXPECT_EQ(uri->user, "mover");
  EXPECT_TRUE(uri->has_password);
  EXPECT_EQ(uri->password, "p@ss:w/rd");
  // Nothing the spec prints or hashes holds the password.
  EXPECT_THAT(s.ToJson().dump(), Not(HasSubstr("p@ss")));
  ::unsetenv("KF_TEST_SRC_PW");

  Spec nopw = Accepted(kMinimal);
  auto plain = nopw.SourceUri();
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->has_password);
  EXPECT_EQ(plain->user, "");
}

TEST(ControlSpec, TargetUriForBothProviders) {
  Spec local =
      Accepted(std::string(kMinimal) + "  local: {bind: 0.0.0.0, password_env: KF_TEST_DST_PW}\n");
  ::setenv("KF_TEST_DST_PW", "v", 1);
  auto uri = local.TargetUri(7123);
  ASSERT_TRUE(uri) << uri.error().message;
  EXPECT_EQ(uri->host, "127.0.0.1");  // a wildcard bind is reached over loopback
  EXPECT_EQ(uri->port, 7123);
  EXPECT_EQ(uri->password, "v");
  ::unsetenv("KF_TEST_DST_PW");
  auto missing = local.TargetUri(7123);
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("target.local.password_env"));

  Spec external = Accepted(
      "name: a\nsource: {uri: redis://h:1}\n"
      "target: {provider: external, external: {uri: 'redis://v.internal', user: w}}\n");
  auto ext = external.TargetUri(0);
  ASSERT_TRUE(ext);
  EXPECT_EQ(ext->host, "v.internal");
  EXPECT_EQ(ext->port, 6379);
  EXPECT_EQ(ext->user, "w");
  EXPECT_FALSE(ext->has_password);
}

TEST(ControlSpec, HookCommandSubstitutesTheEndpoint) {
  Spec s = Accepted(std::string(kMinimal) +
                    "cutover: {hook: 'switch {host} {port} \"{uri}\" ${HOME} {host}'}\n");
  net::Uri target;
  target.host = "127.0.0.1";
  target.port = 6390;
  target.password = "secret";
  target.has_password = true;
  EXPECT_EQ(s.HookCommand(target),
            "switch 127.0.0.1 6390 \"redis://127.0.0.1:6390\" ${HOME} 127.0.0.1");
  EXPECT_EQ(Accepted(kMinimal).HookCommand(target), "");
}

TEST(ControlSpec, FingerprintIgnoresFormAndTracksMeaning) {
  Spec a = Accepted(
      "# comment\n"
      "name: demo\n"
      "source: {uri: 'redis://127.0.0.1', password_env: PW}\n"
      "target:\n"
      "  version: 8.0\n"
      "  provider: local\n"
      "  local: {maxmemory: 1mb}\n");
  Spec b = Accepted(
      "target:\n"
      "  local:\n"
      "    maxmemory: 1048576\n"
      "  provider: \"local\"\n"
      "  version: '8.0'\n"
      "  engine: valkey\n"
      "source:\n"
      "  password_env: PW\n"
      "  uri: redis://127.0.0.1:6379\n"
      "name: demo\n"
      "migration: {verify: full, writers: 2}\n");
  EXPECT_EQ(a.Fingerprint(), b.Fingerprint());
  EXPECT_EQ(a.Fingerprint().size(), 64u);
  EXPECT_EQ(a.Fingerprint().find_first_not_of("0123456789abcdef"), std::string::npos);
  // Same meaning from another file name: same fingerprint (origin is not part of it).
  auto c = ParseSpec(
      "name: demo\nsource: {uri: 'redis://127.0.0.1', password_env: PW}\n"
      "target: {version: '8.0', provider: local, local: {maxmemory: 1mb}}\n",
      "/specs/other-name.yaml");
  ASSERT_TRUE(c);
  EXPECT_EQ(a.Fingerprint(), c->Fingerprint());
  // Stable across runs: pinned, so a change to the normalisation is a conscious one.
  EXPECT_EQ(Accepted(kMinimal).Fingerprint(), Accepted(kMinimal).Fingerprint());

  Spec d = Accepted(
      "name: demo\nsource: {uri: 'redis://127.0.0.1', password_env: PW}\n"
      "target: {version: '8.0', provider: local, local: {maxmemory: 2mb}}\n"
      "migration: {verify: keys}\n");
  EXPECT_NE(a.Fingerprint(), d.Fingerprint());
  EXPECT_THAT(ChangedFields(a.ToJson(), d.ToJson()),
              ::testing::ElementsAre("migration.verify", "target.local.maxmemory"));
  EXPECT_TRUE(ChangedFields(a.ToJson(), b.ToJson()).empty());
}

TEST(ControlSpec, ByteSizes) {
  EXPECT_EQ(ParseByteSize("0"), 0u);
  EXPECT_EQ(ParseByteSize("123"), 123u);
  EXPECT_EQ(ParseByteSize("10b"), 10u);
  EXPECT_EQ(ParseByteSize("2k"), 2000u);
  EXPECT_EQ(ParseByteSize("2KB"), 2048u);
  EXPECT_EQ(ParseByteSize("3m"), 3000000u);
  EXPECT_EQ(ParseByteSize("3Mb"), 3u << 20);
  EXPECT_EQ(ParseByteSize("4g"), 4000000000u);
  EXPECT_EQ(ParseByteSize("4gb"), uint64_t{4} << 30);
  EXPECT_EQ(ParseByteSize(""), std::nullopt);
  EXPECT_EQ(ParseByteSize("mb"), std::nullopt);
  EXPECT_EQ(ParseByteSize("1.5gb"), std::nullopt);
  EXPECT_EQ(ParseByteSize("1tb"), std::nullopt);
  EXPECT_EQ(ParseByteSize("-1"), std::nullopt);
  EXPECT_EQ(ParseByteSize("99999999999999999999gb"), std::nullopt);
  EXPECT_EQ(ParseByteSize("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(ParseByteSize("18446744073709551616"), std::nullopt);
}

}  // namespace
}  // namespace kf::control

// ---------------------------------------------------------------------------------------
// TLS (docs/tls.md)

namespace kf::control {
namespace {

TEST(ControlSpecTls, TlsBlocksGiveTheUrisTheirOptions) {
  Spec spec = Accepted(
      "name: a\n"
      "source:\n"
      "  uri: rediss://redis.internal:6380\n"
      "  tls: {ca_cert: certs/ca.pem, cert: /abs/client.pem, key: certs/client.key,\n"
      "        server_name: redis.example}\n"
      "target:\n"
      "  provider: external\n"
      "  external: {uri: 'rediss://valkey.internal:6380', tls: {insecure: true}}\n");
  auto source = spec.SourceUri();
  ASSERT_TRUE(source) << source.error().message;
  EXPECT_TRUE(source->tls.enabled);
  EXPECT_EQ(source->tls.ca_cert, "/specs/certs/ca.pem");
  EXPECT_EQ(source->tls.cert, "/abs/client.pem");
  EXPECT_EQ(source->tls.key, "/specs/certs/client.key");
  EXPECT_EQ(source->tls.server_name, "redis.example");
  EXPECT_EQ(source->tls.OptionName("ca_cert"), "source.tls.ca_cert");
  auto target = spec.TargetUri(0);
  ASSERT_TRUE(target) << target.error().message;
  EXPECT_TRUE(target->tls.enabled && target->tls.insecure);
  EXPECT_EQ(target->tls.OptionName("insecure"), "target.external.tls.insecure");
  EXPECT_EQ(spec.ToJson()["source"]["tls"]["ca_cert"], "/specs/certs/ca.pem");

  // rediss:// alone: TLS verified against the system's store.
  Spec bare = Accepted("name: a\nsource: {uri: 'rediss://h:1'}\ntarget: {provider: local}\n");
  EXPECT_TRUE(bare.SourceUri()->tls.enabled);
  EXPECT_FALSE(bare.SourceUri()->tls.AnySet());
  // A plaintext spec's JSON (and so its fingerprint) has no tls field.
  EXPECT_FALSE(Accepted(kMinimal).ToJson()["source"].contains("tls"));
}

TEST(ControlSpecTls, LocalTargetWithTls) {
  Spec spec = Accepted(
      "name: a\nsource: {uri: 'redis://h:1'}\n"
      "target:\n  provider: local\n"
      "  local: {tls: {ca_cert: ca.pem, cert: server.pem, key: server.key}}\n");
  auto target = spec.TargetUri(7000);
  ASSERT_TRUE(target);
  EXPECT_EQ(target->ToString(), "rediss://127.0.0.1:7000");
  EXPECT_EQ(target->tls.cert, "/specs/server.pem");
  EXPECT_EQ(spec.HookCommand(*target).size(), 0u);

  std::string m = Refusal(
      "name: a\nsource: {uri: 'redis://h:1'}\n"
      "target:\n  provider: local\n  local: {tls: {cert: s.pem}}\n");
  EXPECT_THAT(m, HasSubstr("target.local.tls needs cert and key"));
  EXPECT_THAT(m, HasSubstr("target.local.tls needs ca_cert or ca_dir"));
  m = Refusal(
      "name: a\nsource: {uri: 'redis://h:1'}\n"
      "target:\n  provider: local\n  local: {extra_config: {tls-port: 6380}}\n");
  EXPECT_THAT(m, HasSubstr("set target.local.tls"));
  // A local cluster takes TLS too: its seed (and every node reached from it) is rediss://.
  Spec cluster = Accepted(
      "name: a\nsource: {uri: 'redis://h:1'}\n"
      "target:\n  provider: local\n  topology: cluster\n"
      "  local: {tls: {ca_cert: ca.pem, cert: s.pem, key: s.key}}\n");
  auto seed = cluster.TargetUri(7001);
  ASSERT_TRUE(seed);
  EXPECT_EQ(seed->ToString(), "rediss://127.0.0.1:7001");
  EXPECT_EQ(seed->tls.key, "/specs/s.key");
  EXPECT_EQ(seed->tls.ca_cert, "/specs/ca.pem");
}

TEST(ControlSpecTls, TlsRefusals) {
  std::string m = Refusal(
      "name: a\nsource: {uri: 'redis://h:1', tls: {ca_cert: ca.pem}}\ntarget: {provider: "
      "local}\n");
  EXPECT_THAT(m, HasSubstr("t.yaml:2:"));
  EXPECT_THAT(m, HasSubstr("source.tls is given but source.uri redis://h:1 is plaintext; write "
                           "rediss://"));
  m = Refusal(
      "name: a\nsource: {uri: 'rediss://h:1', tls: {cert: c.pem}}\ntarget: {provider: "
      "local}\n");
  EXPECT_THAT(m, HasSubstr("source.tls.cert"));
  EXPECT_THAT(m, HasSubstr("is given without source.tls.key"));
  m = Refusal(
      "name: a\nsource: {uri: 'rediss://h:1', tls: {insecure: true, ca_cert: ca.pem}}\n"
      "target: {provider: local}\n");
  EXPECT_THAT(m, HasSubstr("source.tls.insecure is true and a CA is given"));
  m = Refusal(
      "name: a\nsource: {uri: 'rediss://h:1', tls: {insecure: yes-please}}\n"
      "target: {provider: local}\n");
  EXPECT_THAT(m, HasSubstr("source.tls.insecure is \"yes-please\"; write true or false"));
  m = Refusal(
      "name: a\nsource: {uri: 'rediss://h:1', tls: {ca_file: ca.pem}}\ntarget: {provider: "
      "local}\n");
  EXPECT_THAT(m, HasSubstr("unknown key \"ca_file\" under source.tls"));
}

}  // namespace
}  // namespace kf::control

namespace kf::control {
namespace {

// ---------------------------------------------------------------------------------------
// source.rdb_file: a backup file as the source of an offline migration

TEST(ControlSpec, ARdbFileSourceIsResolvedAgainstTheSpecsDirectory) {
  Spec spec =
      Accepted("name: a\nsource: {rdb_file: backups/dump.rdb}\ntarget: {provider: local}\n");
  EXPECT_TRUE(spec.source.is_file());
  EXPECT_EQ(spec.source.rdb_file, "/specs/backups/dump.rdb");
  EXPECT_EQ(spec.source.uri, "");
  EXPECT_EQ(spec.ToJson()["source"], nlohmann::json({{"rdb_file", "/specs/backups/dump.rdb"}}));
  auto uri = spec.SourceUri();
  ASSERT_FALSE(uri);
  EXPECT_THAT(uri.error().message, HasSubstr("is the file /specs/backups/dump.rdb"));
  // Two different files are two different migrations.
  Spec other = Accepted("name: a\nsource: {rdb_file: /b/dump.rdb}\ntarget: {provider: local}\n");
  EXPECT_NE(spec.Fingerprint(), other.Fingerprint());
}

TEST(ControlSpec, ARdbFileSourceTakesNoServerFields) {
  std::string m = Refusal(
      "name: a\nsource: {rdb_file: d.rdb, uri: redis://h:1, mode: scan}\ntarget: {provider: "
      "local}\n");
  EXPECT_THAT(m, HasSubstr("source.uri is given with source.rdb_file"));
  EXPECT_THAT(m, HasSubstr("source.mode is given with source.rdb_file"));
  EXPECT_THAT(m, HasSubstr("either a server"));
  EXPECT_THAT(Refusal("name: a\nsource: {rdb_file: \"-\"}\ntarget: {provider: local}\n"),
              HasSubstr("standard input cannot be read twice"));
  EXPECT_THAT(Refusal("name: a\nsource: {rdb_file: \"~/d.rdb\"}\ntarget: {provider: local}\n"),
              HasSubstr("~ is not expanded"));
  // Neither: the uri is still what a source needs.
  EXPECT_THAT(Refusal("name: a\nsource: {user: u}\ntarget: {provider: local}\n"),
              HasSubstr("source.uri"));
}

}  // namespace
}  // namespace kf::control

// ---------------------------------------------------------------------------------------
// observe: where apply serves /status and /metrics (docs/observe.md)

namespace kf::control {
namespace {

TEST(ControlSpec, ObserveBlockParsesAndStaysOutOfTheFingerprint) {
  Spec plain = Accepted(kMinimal);
  EXPECT_EQ(plain.observe.listen, "");
  EXPECT_EQ(plain.observe.token_env, "");
  Spec observed =
      Accepted(std::string(kMinimal) + "observe:\n  listen: 0.0.0.0:9121\n  token_env: KF_TOKEN\n");
  EXPECT_EQ(observed.observe.listen, "0.0.0.0:9121");
  EXPECT_EQ(observed.observe.token_env, "KF_TOKEN");
  EXPECT_EQ(observed.ToJson()["observe"]["listen"], "0.0.0.0:9121");
  EXPECT_EQ(observed.ToJson()["observe"]["token_env"], "KF_TOKEN");
  // Moving the server of a running migration is not a spec change.
  EXPECT_EQ(plain.Fingerprint(), observed.Fingerprint());
  EXPECT_EQ(Accepted(std::string(kMinimal) + "observe: {listen: '[::1]:0'}\n").observe.listen,
            "[::1]:0");
}

TEST(ControlSpec, ObserveBlockRefusesBadValues) {
  std::string spec(kMinimal);
  EXPECT_THAT(Refusal(spec + "observe: {listen: 9121}\n"),
              HasSubstr("t.yaml:6:19: observe.listen \"9121\" is not HOST:PORT"));
  EXPECT_THAT(Refusal(spec + "observe: {listen: '127.0.0.1:70000'}\n"),
              HasSubstr("is not HOST:PORT"));
  EXPECT_THAT(Refusal(spec + "observe: {listen: '::1:9121'}\n"), HasSubstr("[::1]:9121"));
  EXPECT_THAT(Refusal(spec + "observe: {token_env: 's3cret value'}\n"),
              HasSubstr("observe.token_env is not an environment variable name"));
  EXPECT_THAT(Refusal(spec + "observe: {listn: 127.0.0.1:9121}\n"),
              HasSubstr("did you mean \"listen\"?"));
}

}  // namespace
}  // namespace kf::control
