// keyferry plan/apply/abort/rollback/doctor: the migration driven by a spec.
//
// apply takes the state dir's lock, runs the Migration state machine and prints each event
// as it happens, with the snapshot bar, the streaming line and the verify bar under them
// (docs/progress.md; --quiet prints only the result); SIGINT/SIGTERM (or `keyferry abort`, which
// sends SIGTERM to the running apply) stop it and roll back if the cutover hook has not started.
// Without a terminal to ask on and without --auto-approve it refuses at once (it would have to ask
// later). It ignores SIGPIPE: a closed output (`apply | head`) must not kill it half-way; what it
// cannot print is lost, the journal keeps everything.
//
// abort/rollback decide whether an apply runs by the apply lock (flock), never by whether
// the pid in the lock file is alive: held → SIGTERM to the holder, which rolls back itself;
// free (no apply, or one that was killed) → they take the lock and roll back themselves.
// Both refuse once the cutover hook has started.
//
// Exit codes: 0 done, 1 refused / declined / rolled back, 2 errors (plan: 2 when the
// source cannot be read or is the target, 1 when PREFLIGHT would refuse).
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "cli/cli_app.h"
#include "cli/listen_flags.h"
#include "cli/progress_output.h"
#include "common/live_line.h"
#include "control/control_errc.h"
#include "control/doctor.h"
#include "control/journal.h"
#include "control/migration.h"
#include "control/phase.h"
#include "control/plan.h"
#include "control/spec.h"
#include "observe/dashboard.h"
#include "observe/http_server.h"
#include "observe/migration_metrics.h"
#include "observe/migration_routes.h"
#include "observe/terminal_progress.h"

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
  for (const auto& e : plan.errors) std::fprintf(stderr, "keyferry plan: %s\n", e.c_str());
  if (!plan.errors.empty()) return kExitError;
  return plan.blockers.empty() ? kExitOk : kExitRefused;
}

// Asks on the terminal; an answer, or kStopped as soon as SIGINT/SIGTERM set the flag (a
// read blocked on the terminal must not turn an abort into a "no").
control::Confirmation AskOnTerminal(const std::string& question) {
  std::fprintf(stderr, "%s", question.c_str());
  std::fflush(stderr);
  std::string answer;
  while (true) {
    if (g_apply_stop.load()) return control::Confirmation::kStopped;
    pollfd p{STDIN_FILENO, POLLIN, 0};
    int ready = ::poll(&p, 1, 200);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char c = 0;
    ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return control::Confirmation::kNo;  // end of input: no answer is a no
    if (c == '\n') break;
    if (answer.size() < 64) answer += c;
  }
  while (!answer.empty() && (answer.back() == '\r' || answer.back() == ' ')) answer.pop_back();
  return answer == "y" || answer == "Y" || answer == "yes" ? control::Confirmation::kYes
                                                           : control::Confirmation::kNo;
}

// What apply's progress shows (docs/progress.md): a running verify's bar, else the live
// sync's snapshot bar or streaming line, else nothing.
class ApplyProgress {
 public:
  void SetStats(const sync::SyncStats* stats) {
    std::lock_guard lock(mu_);
    stats_ = stats;
  }
  VerifyProgressSlot& verify() { return verify_; }
  // The live sync's numbers as JSON (the dashboard's /api/live); nullopt between syncs.
  std::optional<std::string> StatsJson() {
    std::lock_guard lock(mu_);
    if (stats_ == nullptr) return std::nullopt;
    return stats_->ToJson();
  }
  observe::ProgressSample Sample() {
    if (verify_.running()) return verify_.Sample();
    // Read under the lock: SetStats(nullptr) waits for it before the stats go away.
    std::lock_guard lock(mu_);
    return stats_ != nullptr ? SyncSample(*stats_) : observe::ProgressSample{};
  }

 private:
  std::mutex mu_;
  const sync::SyncStats* stats_ = nullptr;
  VerifyProgressSlot verify_;
};

int RunApply(const std::string& path, bool auto_approve, bool quiet,
             const ListenFlags& listen_flags) {
  auto spec = Load(path);
  if (!spec) {
    std::fprintf(stderr, "%s\n", spec.error().ToString().c_str());
    return kExitError;
  }
  // A closed stdout or stderr (apply | head) must not kill apply between two phases: the
  // write fails (EPIPE) and is dropped; the journal has every event.
  ::signal(SIGPIPE, SIG_IGN);
  if (!auto_approve && !::isatty(STDIN_FILENO)) {
    // Refuse now rather than after provisioning and copying everything: the question
    // before the cutover could not be answered.
    auto done = control::Journal::Exists(spec->state_dir)
                    ? control::Journal::Open(spec->state_dir, control::Journal::Mode::kReadOnly)
                    : Result<std::unique_ptr<control::Journal>>(nullptr);
    if (done && *done && (*done)->Get(control::kKeyPhase).value_or(std::nullopt) == "DONE") {
      std::fprintf(stderr, "keyferry apply: the migration is already done; nothing to do\n");
      return kExitOk;
    }
    std::fprintf(stderr,
                 "keyferry apply refused: stdin is not a terminal, so the confirmation apply "
                 "asks before cutting over could not be answered; nothing was done. Run it "
                 "from a terminal, or pass --auto-approve to cut over without a question\n");
    return kExitError;
  }
  // Resolved before anything starts: a missing token variable is a usage error.
  auto listen = ResolveListen(listen_flags, &spec->observe);
  if (!listen) {
    std::fprintf(stderr, "keyferry apply: %s\n", listen.error().ToString().c_str());
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
  // Declared after the journal: stopped (destroyed) before it; the metrics, the progress
  // shown and the node reader outlive the server, which reads them.
  observe::MigrationMetricsSource metrics(journal->get());
  ApplyProgress shown;
  observe::NodeRefresher nodes(
      [&spec, &journal] { return observe::MigrationNodeSeeds(*spec, journal->get()); });
  observe::HttpServer server;
  if (*listen) {
    observe::AddMigrationRoutes(&server, journal->get(), spec->name, spec->state_dir);
    observe::AddMigrationMetricsRoute(&server, &metrics, spec->state_dir);
    observe::AddDashboardRoutes(&server, {.journal = journal->get(),
                                          .live_stats = [&shown] { return shown.StatsJson(); },
                                          .nodes = &nodes,
                                          .title = spec->name});
    auto listening = server.Listen(**listen);
    if (!listening) {
      std::fprintf(stderr, "keyferry apply: observe server (--listen / observe.listen): %s\n",
                   listening.error().ToString().c_str());
      return kExitError;
    }
    nodes.Start();
    std::fprintf(stderr,
                 "keyferry apply: serving /status and /metrics on %s (port %d); the dashboard "
                 "is that URL\n",
                 observe::ServedUrl(**listen, server.port()).c_str(), server.port());
  }
  struct sigaction sa {};
  sa.sa_handler = OnApplySignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  // Phase lines stay (not with --quiet: the journal keeps them, keyferry events shows
  // them); they go through the live line, above the bar.
  observe::TerminalProgress progress(
      {.mode = observe::ChooseProgressMode(quiet), .plain_prefix = "keyferry apply: "},
      [&shown] { return shown.Sample(); });
  control::ApplyOptions options;
  options.auto_approve = auto_approve;
  options.stop = &g_apply_stop;
  options.print = [quiet](const std::string& line) {
    if (!quiet) PrintStderrLine("keyferry apply: " + line);
  };
  options.confirm = [&progress](const std::string& question) {
    progress.Hold();  // the question and its answer must not share a line with the bar
    auto answer = AskOnTerminal(question);
    progress.Release();
    return answer;
  };
  options.sync_stats = [&shown](const sync::SyncStats* stats) { shown.SetStats(stats); };
  options.verify_progress = [&shown](const verify::VerifyProgress* p) { shown.verify().Set(p); };
  options.engine_stats = [&metrics](const std::vector<control::EngineStats>& engines) {
    metrics.SetEngines(engines);
  };
  control::Migration migration(*spec, journal->get(), options);
  progress.Start();
  auto result = migration.Apply();
  progress.Stop();
  metrics.SetEngines({});  // the engines' stats go with `migration`; their last numbers stay
  if (!result) {
    std::fprintf(stderr, "keyferry apply failed: %s\n", result.error().ToString().c_str());
    const auto& code = result.error().code;
    if (code == control::make_error_code(control::ControlErrc::kDeclined) ||
        code == control::make_error_code(control::ControlErrc::kAborted) ||
        code == control::make_error_code(control::ControlErrc::kSpecChanged)) {
      return kExitRefused;
    }
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

// Refuses once the cutover hook has started; else sends SIGTERM to a running apply (the
// lock is held), or rolls back directly (the lock is free: no apply, or a killed one).
int RunAbort(const std::string& path, bool rollback_verb) {
  const char* verb = rollback_verb ? "rollback" : "abort";
  auto spec = Load(path);
  if (!spec) {
    std::fprintf(stderr, "%s\n", spec.error().ToString().c_str());
    return kExitError;
  }
  auto journal = control::Journal::Open(spec->state_dir, control::Journal::Mode::kReadWrite);
  if (!journal) {
    std::fprintf(stderr, "keyferry %s: %s\n", verb, journal.error().ToString().c_str());
    return journal.error().code == control::make_error_code(control::ControlErrc::kJournalMissing)
               ? kExitRefused
               : kExitError;
  }
  auto refusal = [&]() -> std::optional<std::string> {
    bool done = (*journal)->Get(control::kKeyCutoverDone).value_or(std::nullopt).has_value();
    bool started =
        done || (*journal)->Get(control::kKeyCutoverStarted).value_or(std::nullopt).has_value();
    if (!started) return std::nullopt;
    auto port = (*journal)->Get("target.port").value_or(std::nullopt);
    auto target = spec->TargetUri(port ? std::atoi(port->c_str()) : 0);
    return control::RollbackRefusal(target ? target->Endpoint() : "the target", done);
  };
  if (auto why = refusal()) {
    std::fprintf(stderr, "keyferry %s refused: %s\n", verb, why->c_str());
    return kExitRefused;
  }
  auto locked = (*journal)->AcquireApplyLock();
  if (!locked) {
    if (locked.error().code != control::make_error_code(control::ControlErrc::kLocked)) {
      std::fprintf(stderr, "keyferry %s: %s\n", verb, locked.error().ToString().c_str());
      return kExitError;
    }
    // An apply holds the lock: ask it to stop; it rolls back itself (if its hook has not
    // started by the time it sees the signal).
    auto holder = control::Journal::ApplyLockHolder(spec->state_dir);
    if (!holder || *holder <= 0) {
      std::fprintf(stderr,
                   "keyferry %s: an apply holds the lock of %s but its pid cannot be read; stop "
                   "it with Ctrl-C where it runs\n",
                   verb, spec->state_dir.c_str());
      return kExitError;
    }
    if (::kill(static_cast<pid_t>(*holder), SIGTERM) != 0) {
      std::fprintf(stderr, "keyferry %s: cannot signal the running apply (pid %d): %s\n", verb,
                   *holder, std::strerror(errno));
      return kExitError;
    }
    std::fprintf(stderr,
                 "keyferry %s: asked the running apply (pid %d) to stop; it rolls back before "
                 "exiting unless its cutover hook has already started (watch keyferry events "
                 "-f %s)\n",
                 verb, *holder, path.c_str());
    return kExitOk;
  }
  // The lock is ours: no apply runs. The journal may have changed since it was read above.
  if (auto why = refusal()) {
    std::fprintf(stderr, "keyferry %s refused: %s\n", verb, why->c_str());
    return kExitRefused;
  }
  auto phase = (*journal)->Get(control::kKeyPhase).value_or(std::nullopt);
  auto parsed = phase ? control::ParsePhase(*phase) : std::nullopt;
  if (parsed && (*parsed == control::Phase::kRolledBack || *parsed == control::Phase::kAborted)) {
    std::fprintf(stderr,
                 "keyferry %s: the migration was already stopped (%s); nothing to roll "
                 "back\n",
                 verb, phase->c_str());
    return kExitOk;
  }
  control::ApplyOptions options;
  options.print = [](const std::string& line) {
    std::fprintf(stderr, "keyferry: %s\n", line.c_str());
  };
  control::Migration migration(*spec, journal->get(), options);
  auto result = migration.Rollback(rollback_verb ? "rollback requested by the operator"
                                                 : "aborted by the operator");
  if (!result) {
    std::fprintf(stderr, "keyferry %s: %s\n", verb, result.error().ToString().c_str());
    return result.error().code == control::make_error_code(control::ControlErrc::kRefused)
               ? kExitRefused
               : kExitError;
  }
  std::fprintf(stderr, "keyferry %s: migration %s\n", verb,
               std::string(control::PhaseName(*result)).c_str());
  return *result == control::Phase::kFailed ? kExitError : kExitOk;
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
    auto quiet = std::make_shared<bool>(false);
    auto listen = std::make_shared<ListenFlags>();
    auto* sub = app.add_subcommand("apply", "run the migration a spec describes (resumable)");
    sub->add_option("-f,--file", *file, "the migration spec (YAML)")->required();
    sub->add_flag("--auto-approve", *approve, "cut over without asking");
    AddQuietFlag(sub, quiet.get());
    AddListenFlags(sub, listen.get(), "--listen",
                   "serve /status and /metrics at HOST:PORT while applying (overrides the "
                   "spec's observe.listen; docs/observe.md)");
    sub->callback([&state, file, approve, quiet, listen, sub] {
      ApplyQuiet(sub, *quiet, &state);
      state.run = [file, approve, quiet, listen] {
        return RunApply(*file, *approve, *quiet, *listen);
      };
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
