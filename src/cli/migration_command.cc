// keyferry plan/apply/abort/rollback/doctor: the migration driven by a spec.
//
// apply takes the state dir's lock, runs the Migration state machine and prints each event
// as it happens; SIGINT/SIGTERM (or `keyferry abort`, which sends SIGTERM to the running
// apply) stop it and roll back if it has not cut over. Exit codes: 0 done, 1 refused or
// rolled back, 2 errors.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "cli/cli_app.h"
#include "control/control_errc.h"
#include "control/doctor.h"
#include "control/journal.h"
#include "control/migration.h"
#include "control/plan.h"
#include "control/spec.h"

namespace kf::cli {
namespace {

std::atomic<bool> g_apply_stop{false};
void OnApplySignal(int) { g_apply_stop.store(true); }

Result<control::Spec> Load(const std::string& path) {
  auto spec = control::LoadSpec(path);
  if (!spec) return MakeError(spec.error());
  return spec;
}

int RunPlan(const std::string& path, bool json) {
  auto spec = Load(path);
  if (!spec) {
    std::fprintf(stderr, "%s\n", spec.error().ToString().c_str());
    return kExitError;
  }
  auto plan = control::MakePlan(*spec);
  if (json) {
    std::printf("%s\n", plan.data.dump(2).c_str());
  } else {
    std::printf("%s", plan.text.c_str());
  }
  return kExitOk;
}

int RunApply(const std::string& path, bool auto_approve) {
  auto spec = Load(path);
  if (!spec) {
    std::fprintf(stderr, "%s\n", spec.error().ToString().c_str());
    return kExitError;
  }
  auto journal = control::Journal::Open(spec->state_dir, true);
  if (!journal) {
    std::fprintf(stderr, "keyferry apply: %s\n", journal.error().ToString().c_str());
    return kExitError;
  }
  auto locked = (*journal)->AcquireApplyLock();
  if (!locked) {
    std::fprintf(stderr, "keyferry apply: %s\n", locked.error().ToString().c_str());
    return kExitRefused;
  }
  struct sigaction sa {};
  sa.sa_handler = OnApplySignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  control::ApplyOptions options;
  options.auto_approve = auto_approve;
  options.stop = &g_apply_stop;
  options.print = [](const std::string& line) {
    std::fprintf(stderr, "keyferry apply: %s\n", line.c_str());
  };
  options.confirm = [](const std::string& question) {
    if (!::isatty(STDIN_FILENO)) {
      std::fprintf(stderr,
                   "%s\nno terminal to answer on: pass --auto-approve to cut over without a "
                   "question\n",
                   question.c_str());
      return false;
    }
    std::fprintf(stderr, "%s", question.c_str());
    std::string answer;
    std::getline(std::cin, answer);
    return answer == "y" || answer == "Y" || answer == "yes";
  };
  control::Migration migration(*spec, journal->get(), options);
  auto result = migration.Apply();
  if (!result) {
    std::fprintf(stderr, "keyferry apply failed: %s\n", result.error().ToString().c_str());
    return kExitError;
  }
  switch (*result) {
    case control::Phase::kDone:
      std::fprintf(stderr, "keyferry apply: DONE\n");
      return kExitOk;
    case control::Phase::kRolledBack:
    case control::Phase::kAborted:
      std::fprintf(stderr, "keyferry apply: %s (see keyferry events -f %s)\n",
                   std::string(control::PhaseName(*result)).c_str(), path.c_str());
      return kExitRefused;
    default:
      return kExitError;
  }
}

// Sends SIGTERM to a running apply (pid in the lock file), or rolls back directly.
int RunAbort(const std::string& path, bool rollback_verb) {
  auto spec = Load(path);
  if (!spec) {
    std::fprintf(stderr, "%s\n", spec.error().ToString().c_str());
    return kExitError;
  }
  auto journal = control::Journal::Open(spec->state_dir, false);
  if (!journal) {
    std::fprintf(stderr, "keyferry: %s\n", journal.error().ToString().c_str());
    return kExitRefused;
  }
  if ((*journal)->Get("cutover.done").value_or(std::nullopt)) {
    auto port = (*journal)->Get("target.port").value_or(std::nullopt);
    auto target = spec->TargetUri(port ? std::stoi(*port) : 0);
    std::fprintf(stderr, "keyferry %s refused: %s\n", rollback_verb ? "rollback" : "abort",
                 control::RollbackRefusal(target ? target->Endpoint() : "the target").c_str());
    return kExitRefused;
  }
  auto locked = (*journal)->AcquireApplyLock();
  if (!locked) {
    // An apply runs: ask it to stop; it rolls back itself.
    std::ifstream lock_file(spec->state_dir + "/apply.lock");
    long pid = 0;
    lock_file >> pid;
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), SIGTERM) == 0) {
      std::fprintf(stderr,
                   "keyferry: asked the running apply (pid %ld) to stop; it rolls back before "
                   "exiting (watch keyferry events -f %s)\n",
                   pid, path.c_str());
      return kExitOk;
    }
    std::fprintf(stderr, "keyferry: %s\n", locked.error().ToString().c_str());
    return kExitError;
  }
  control::ApplyOptions options;
  options.print = [](const std::string& line) {
    std::fprintf(stderr, "keyferry: %s\n", line.c_str());
  };
  control::Migration migration(*spec, journal->get(), options);
  auto result = migration.Rollback(rollback_verb ? "rollback requested by the operator"
                                                 : "aborted by the operator");
  if (!result) {
    std::fprintf(stderr, "keyferry: %s\n", result.error().ToString().c_str());
    return result.error().code == control::make_error_code(control::ControlErrc::kRefused)
               ? kExitRefused
               : kExitError;
  }
  std::fprintf(stderr, "keyferry: migration %s\n",
               std::string(control::PhaseName(*result)).c_str());
  return kExitOk;
}

int RunDoctor(const std::string& path, bool json) {
  auto spec = Load(path);
  if (!spec) {
    std::fprintf(stderr, "%s\n", spec.error().ToString().c_str());
    return kExitError;
  }
  auto report = control::RunDoctor(*spec);
  if (json) {
    std::printf("%s\n", report.ToJson().c_str());
  } else {
    std::printf("%s", report.ToText().c_str());
  }
  return report.ok() ? kExitOk : kExitRefused;
}

}  // namespace

void RegisterMigrationCommands(CLI::App& app, CliState& state) {
  {
    auto file = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    auto* sub =
        app.add_subcommand("plan", "show what a migration spec will change (changes nothing)");
    sub->add_option("-f,--file", *file, "the migration spec (YAML)")->required();
    sub->add_flag("--json", *json, "print the plan as JSON");
    sub->callback(
        [&state, file, json] { state.run = [file, json] { return RunPlan(*file, *json); }; });
  }
  {
    auto file = std::make_shared<std::string>();
    auto approve = std::make_shared<bool>(false);
    auto* sub = app.add_subcommand("apply", "run the migration a spec describes (resumable)");
    sub->add_option("-f,--file", *file, "the migration spec (YAML)")->required();
    sub->add_flag("--auto-approve", *approve, "cut over without asking");
    sub->callback([&state, file, approve] {
      state.run = [file, approve] { return RunApply(*file, *approve); };
    });
  }
  for (bool rollback : {false, true}) {
    auto file = std::make_shared<std::string>();
    auto* sub = app.add_subcommand(
        rollback ? "rollback" : "abort",
        rollback ? "undo a migration that has not cut over (refused after CUTOVER)"
                 : "stop a running apply before CUTOVER and roll back");
    sub->add_option("-f,--file", *file, "the migration spec (YAML)")->required();
    sub->callback([&state, file, rollback] {
      state.run = [file, rollback] { return RunAbort(*file, rollback); };
    });
  }
  {
    auto file = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    auto* sub = app.add_subcommand("doctor", "explain why a migration cannot go on");
    sub->add_option("-f,--file", *file, "the migration spec (YAML)")->required();
    sub->add_flag("--json", *json, "print the checks as JSON");
    sub->callback(
        [&state, file, json] { state.run = [file, json] { return RunDoctor(*file, *json); }; });
  }
}

}  // namespace kf::cli
