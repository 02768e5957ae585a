// Provider: the factory picks the implementation from the spec's target.provider; the URI
// each implementation gives (external: its URI with user and password from password_env;
// local: the bind address, a wildcard reached over loopback, and the port PROVISION
// journaled); plan's description; and what needs no server at all (an external target is
// never replaced on resume; nothing journaled means nothing to remove). Journals live in
// temporary dirs; no server is started or contacted.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "control/journal.h"
#include "control/provider.h"
#include "control/spec.h"

namespace kf::control {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "kf-provider-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Spec Parsed(const std::string& yaml) {
  auto spec = ParseSpec(yaml, "/specs/t.yaml");
  if (!spec) {
    ADD_FAILURE() << "refused:\n" << spec.error().message;
    return Spec{};
  }
  return *spec;
}

const std::string kLocal =
    "name: demo\n"
    "source:\n"
    "  uri: redis://127.0.0.1:6379\n"
    "target:\n"
    "  provider: local\n"
    "  local:\n"
    "    bind: 0.0.0.0\n"
    "    port: 6390\n"
    "    maxmemory: 200000000\n"
    "    extra_config:\n"
    "      protected-mode: \"no\"\n";

const std::string kExternal =
    "name: demo\n"
    "source:\n"
    "  uri: redis://127.0.0.1:6379\n"
    "target:\n"
    "  provider: external\n"
    "  external:\n"
    "    uri: redis://valkey.example:6400\n"
    "    user: migrator\n"
    "    password_env: KF_PROVIDER_TEST_PASSWORD\n";

// Records what a provider reports.
struct Recorded {
  std::vector<std::string> messages;
  ProviderEvent sink() {
    return [this](EventKind, const std::string& message, const nlohmann::json&) {
      messages.push_back(message);
    };
  }
};

TEST(ControlProvider, FactoryPicksTheImplementationOfTheSpec) {
  Spec local = Parsed(kLocal);
  auto p = MakeProvider(local, nullptr);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->kind(), ProviderKind::kLocal);
  EXPECT_NE(dynamic_cast<LocalStandaloneProvider*>(p.get()), nullptr);

  Spec external = Parsed(kExternal);
  auto e = MakeProvider(external, nullptr);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->kind(), ProviderKind::kExternal);
  EXPECT_NE(dynamic_cast<ExternalProvider*>(e.get()), nullptr);
}

TEST(ControlProvider, ExternalUriCarriesUserAndPasswordFromTheEnvironment) {
  ::setenv("KF_PROVIDER_TEST_PASSWORD", "s3cret", 1);
  Spec spec = Parsed(kExternal);
  ExternalProvider provider(spec, nullptr);
  auto uri = provider.TargetUri();
  ASSERT_TRUE(uri) << uri.error().ToString();
  EXPECT_EQ(uri->host, "valkey.example");
  EXPECT_EQ(uri->port, 6400);
  EXPECT_EQ(uri->user, "migrator");
  EXPECT_TRUE(uri->has_password);
  EXPECT_EQ(uri->password, "s3cret");
  EXPECT_EQ(uri->Endpoint(), "valkey.example:6400");
  // The hook's {uri} never shows the password.
  spec.cutover.hook = "switch {uri} {host} {port}";
  std::string hook = spec.HookCommand(*uri);
  EXPECT_EQ(hook.find("s3cret"), std::string::npos) << hook;
  EXPECT_NE(hook.find("valkey.example 6400"), std::string::npos) << hook;
  ::unsetenv("KF_PROVIDER_TEST_PASSWORD");
}

TEST(ControlProvider, ExternalUriWithoutItsPasswordVariableNamesIt) {
  ::unsetenv("KF_PROVIDER_TEST_PASSWORD");
  Spec spec = Parsed(kExternal);
  ExternalProvider provider(spec, nullptr);
  auto uri = provider.TargetUri();
  ASSERT_FALSE(uri);
  EXPECT_NE(uri.error().ToString().find("KF_PROVIDER_TEST_PASSWORD"), std::string::npos)
      << uri.error().ToString();
}

TEST(ControlProvider, LocalUriUsesTheJournaledPortAndLoopbackForAWildcardBind) {
  TempDir dir;
  auto journal = Journal::Open(dir.path(), Journal::Mode::kCreate);
  ASSERT_TRUE(journal) << journal.error().ToString();
  Spec spec = Parsed(kLocal);
  LocalStandaloneProvider provider(spec, journal->get());
  auto before = provider.TargetUri();
  ASSERT_TRUE(before) << before.error().ToString();
  EXPECT_EQ(before->host, "127.0.0.1");  // bind 0.0.0.0 is reached over loopback
  EXPECT_EQ(before->port, 0);            // nothing provisioned yet
  ASSERT_TRUE((*journal)->Set(kKeyTargetPort, "41234"));
  auto after = provider.TargetUri();
  ASSERT_TRUE(after) << after.error().ToString();
  EXPECT_EQ(after->Endpoint(), "127.0.0.1:41234");
  EXPECT_FALSE(after->has_password);
}

TEST(ControlProvider, DescriptionsForThePlan) {
  Spec local = Parsed(kLocal);
  ProviderDescription l = LocalStandaloneProvider(local, nullptr).Describe();
  EXPECT_EQ(l.data["provider"], "local");
  EXPECT_EQ(l.data["port"], 6390);
  EXPECT_EQ(l.data["maxmemory"], 200000000);
  EXPECT_EQ(l.data["dir"], local.state_dir + "/target");
  EXPECT_EQ(l.line,
            "  + provision  valkey-server on 0.0.0.0:6390, maxmemory 200000000 bytes, "
            "persistence none, data in " +
                local.state_dir + "/target");

  Spec external = Parsed(kExternal);
  ProviderDescription e = ExternalProvider(external, nullptr).Describe();
  EXPECT_EQ(e.data["provider"], "external");
  EXPECT_EQ(e.data["uri"], "redis://valkey.example:6400");
  EXPECT_EQ(e.line, "  = target     external redis://valkey.example:6400 (must be empty)");
}

TEST(ControlProvider, NothingJournaledMeansNothingToRemoveOrReplace) {
  TempDir dir;
  auto journal = Journal::Open(dir.path(), Journal::Mode::kCreate);
  ASSERT_TRUE(journal) << journal.error().ToString();
  Recorded events;

  // External: a target keyferry never wrote to is left alone (no FLUSHALL, no event),
  // and a resumed copy never replaces it.
  Spec external = Parsed(kExternal);
  ExternalProvider e(external, journal->get());
  EXPECT_TRUE(e.Remove(events.sink()));
  auto replaced = e.ConfirmOrReplace(events.sink());
  ASSERT_TRUE(replaced);
  EXPECT_FALSE(*replaced);

  // Local: no pid journaled, no server to stop.
  Spec local = Parsed(kLocal);
  LocalStandaloneProvider l(local, journal->get());
  EXPECT_TRUE(l.Remove(events.sink()));
  EXPECT_TRUE(events.messages.empty());
}

}  // namespace
}  // namespace kf::control
