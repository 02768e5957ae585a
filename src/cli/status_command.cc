// keyferry status / events: where a migration stands and what happened, read from its journal.
//
// Both take the spec (-f, for its name and state_dir) or the state dir itself (--state-dir),
// open the journal read-only (they run beside a live apply, which WAL allows) and never
// write anything. status prints the phase, its status and age, whether an apply holds the
// lock, the live numbers the apply keeps under "progress" and the last event; --watch
// refreshes once a second until a terminal phase or SIGINT/SIGTERM. events prints the event
// log (like a stack's event history); --follow keeps printing new events until the migration
// reaches a terminal phase or SIGINT/SIGTERM, and waits for a journal that does not exist yet
// (events --follow started before apply). While apply waits for the operator's answer, the
// phase status is "awaiting-confirmation" (shown as "awaiting confirmation") and the live
// progress keeps moving.
//
// Exit codes: 0 shown; 1 no journal yet ("no migration has run"), or with --watch a
// migration that ended FAILED / ROLLED_BACK / ABORTED; 2 a bad spec or an unreadable journal.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "cli/cli_app.h"
#include "cli/listen_flags.h"
#include "common/clock.h"
#include "control/control_errc.h"
#include "control/journal.h"
#include "control/migration.h"
#include "control/phase.h"
#include "control/spec.h"
#include "observe/dashboard.h"
#include "observe/http_server.h"
#include "observe/journal_status.h"
#include "observe/migration_metrics.h"
#include "observe/migration_routes.h"

namespace kf::cli {
namespace {

using control::Event;
using control::Journal;

std::atomic<bool> g_stop{false};

void OnStopSignal(int) { g_stop.store(true); }

void InstallStopHandlers() {
  g_stop.store(false);
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// Sleeps up to `total`, returning early (false) when asked to stop.
bool SleepUnlessStopped(std::chrono::milliseconds total) {
  auto until = SteadyClock::now() + total;
  while (SteadyClock::now() < until) {
    if (g_stop.load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return !g_stop.load();
}

struct JournalArgs {
  std::string spec_path;
  std::string state_dir;
  bool json = false;
  bool watch = false;   // status
  bool follow = false;  // events
  int64_t after = 0;    // events
  ListenFlags listen;   // status: serve /status and /metrics until SIGINT/SIGTERM
};

// Where the journal is, and what to call the migration in messages.
struct Target {
  std::string name;
  std::string state_dir;
  std::string apply_hint;                       // "keyferry apply -f cache.yaml"
  std::optional<control::ObserveSpec> observe;  // the spec's observe block (with -f)
  std::optional<control::Spec> spec;            // with -f: the dashboard reads its nodes
};

Result<Target> Resolve(const JournalArgs& args, const char* verb) {
  Target t;
  if (!args.spec_path.empty()) {
    auto spec = control::LoadSpec(args.spec_path);
    if (!spec) return MakeError(std::move(spec).error());
    t.name = spec->name;
    t.state_dir = spec->state_dir;
    t.apply_hint = "keyferry apply -f " + args.spec_path;
    t.observe = spec->observe;
    t.spec = std::move(*spec);
  } else if (!args.state_dir.empty()) {
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::absolute(args.state_dir, ec);
    if (ec) dir = args.state_dir;
    t.state_dir = dir.lexically_normal().string();
    if (!t.state_dir.empty() && t.state_dir.size() > 1 && t.state_dir.back() == '/') {
      t.state_dir.pop_back();
    }
    t.name = std::filesystem::path(t.state_dir).filename().string();
    t.apply_hint = "keyferry apply -f SPEC";
  } else {
    return MakeError(control::ControlErrc::kSpecUnreadable,
                     std::string("give the spec (-f SPEC) or the state dir (--state-dir DIR); "
                                 "see keyferry ") +
                         verb + " --help");
  }
  return t;
}

// Opens the journal read-only; prints the reason and sets *exit_code when it cannot.
std::unique_ptr<Journal> OpenOrExplain(Target* t, int* exit_code) {
  auto journal = Journal::Open(t->state_dir, Journal::Mode::kReadOnly);
  if (!journal) {
    if (journal.error().code == control::ControlErrc::kJournalMissing) {
      std::fprintf(stderr, "no migration has run for %s (state dir %s); run %s\n", t->name.c_str(),
                   t->state_dir.c_str(), t->apply_hint.c_str());
      *exit_code = kExitRefused;
    } else {
      std::fprintf(stderr, "keyferry: %s\n", journal.error().ToString().c_str());
      *exit_code = kExitError;
    }
    return nullptr;
  }
  if (auto name = (*journal)->Get(control::kKeySpecName); name && *name && !(*name)->empty()) {
    t->name = **name;
  }
  return std::move(*journal);
}

std::string LocalTime(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&seconds, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03d", static_cast<int>(ms % 1000));
  return buf;
}

std::string Duration(int64_t ms) {
  if (ms < 0) ms = 0;
  int64_t s = ms / 1000;
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  }
  return buf;
}

// "keys 12345  bytes 1048576  lag 0": the fields in the order the apply wrote them.
std::string ProgressText(const std::string& text) {
  if (text.empty()) return "";
  auto progress = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (progress.is_discarded()) return text;
  if (!progress.is_object()) return progress.dump();
  std::string out;
  for (auto it = progress.begin(); it != progress.end(); ++it) {
    if (!out.empty()) out += "  ";
    out += it.key() + " ";
    out += it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
  }
  return out;
}

std::string EventLine(const Event& e) {
  char head[96];
  std::snprintf(head, sizeof head, "%s  %-12s  %-8s  ", LocalTime(e.time_ms).c_str(),
                std::string(control::PhaseName(e.phase)).c_str(),
                std::string(control::EventKindName(e.kind)).c_str());
  std::string line = head + e.message;
  if (!e.data_json.empty() && e.data_json != "{}") line += "  " + e.data_json;
  return line;
}

void PrintStatusText(const Target& t, const observe::JournalStatus& v) {
  std::printf("%s  (state dir %s)\n", t.name.c_str(), t.state_dir.c_str());
  if (v.phase.empty()) {
    std::printf("phase       none recorded yet\n");
  } else {
    std::string since;
    if (v.phase_started_ms) {
      since = "  since " + LocalTime(*v.phase_started_ms) + " (" +
              Duration(UnixMillis() - *v.phase_started_ms) + " ago)";
    }
    std::string status = v.phase_status;  // "awaiting-confirmation" → "awaiting confirmation"
    std::replace(status.begin(), status.end(), '-', ' ');
    std::printf("phase       %s%s%s%s\n", v.phase.c_str(), status.empty() ? "" : "  ",
                status.c_str(), since.c_str());
  }
  if (v.apply_pid) {
    std::string pid = *v.apply_pid > 0 ? " (pid " + std::to_string(*v.apply_pid) + ")" : "";
    std::printf("apply       running%s\n", pid.c_str());
  } else if (v.cutover_started && v.phase != "DONE") {
    std::printf(
        "apply       not running: the migration stopped in %s after its cutover hook started "
        "(the point of no return); run keyferry apply again to finish it (abort and rollback "
        "refuse)\n",
        v.phase.c_str());
  } else if (!v.phase.empty() && !v.terminal()) {
    std::printf(
        "apply       not running: the migration stopped in %s; run keyferry apply again "
        "to resume it, or keyferry abort to roll it back\n",
        v.phase.c_str());
  } else {
    std::printf("apply       not running\n");
  }
  if (v.apply_started_ms) {
    std::printf("started     %s\n", LocalTime(*v.apply_started_ms).c_str());
  }
  std::string progress = ProgressText(v.progress_text);
  if (!progress.empty()) std::printf("progress    %s\n", progress.c_str());
  if (v.last_event) {
    std::printf("last event  %s\n", EventLine(*v.last_event).c_str());
  } else {
    std::printf("last event  none\n");
  }
  std::fflush(stdout);
}

int WatchExitCode(const observe::JournalStatus& v) {
  auto p = control::ParsePhase(v.phase);
  if (p && control::IsTerminal(*p) && *p != control::Phase::kDone) return kExitRefused;
  return kExitOk;
}

int RunStatusLoop(const JournalArgs& args, const Target& t, Journal& journal);

int RunStatus(const JournalArgs& args) {
  auto target = Resolve(args, "status");
  if (!target) {
    std::fprintf(stderr, "keyferry status: %s\n", target.error().ToString().c_str());
    return kExitError;
  }
  // --listen only (the spec's observe.listen is apply's address): its token may come from
  // the spec's observe.token_env.
  std::optional<observe::ListenOptions> listen;
  if (!args.listen.listen.empty()) {
    control::ObserveSpec token_only;
    if (target->observe) token_only.token_env = target->observe->token_env;
    auto resolved = ResolveListen(args.listen, target->observe ? &token_only : nullptr);
    if (!resolved) {
      std::fprintf(stderr, "keyferry status: %s\n", resolved.error().ToString().c_str());
      return kExitError;
    }
    listen = std::move(*resolved);
  }
  int exit_code = kExitOk;
  auto journal = OpenOrExplain(&*target, &exit_code);
  if (!journal) return exit_code;
  if (args.watch || listen) InstallStopHandlers();
  observe::MigrationMetricsSource metrics(journal.get());  // before the server: outlives it
  // The dashboard's nodes: from the spec (-f); with --state-dir alone they are unknown.
  observe::NodeRefresher nodes([&target, &journal] {
    if (target->spec) return observe::MigrationNodeSeeds(*target->spec, journal.get());
    observe::NodeSeeds none;
    auto why = MakeError(std::make_error_code(std::errc::invalid_argument),
                         "unknown: give the spec (-f SPEC) instead of --state-dir to see nodes");
    none.source = why;
    none.target = why;
    return none;
  });
  observe::HttpServer server;
  if (listen) {
    observe::AddMigrationRoutes(&server, journal.get(), target->name, target->state_dir);
    observe::AddDashboardRoutes(
        &server,
        {.journal = journal.get(), .live_stats = {}, .nodes = &nodes, .title = target->name});
    observe::AddMigrationMetricsRoute(&server, &metrics, target->state_dir);
    auto listening = server.Listen(*listen);
    if (!listening) {
      std::fprintf(stderr, "keyferry status: --listen: %s\n", listening.error().ToString().c_str());
      return kExitError;
    }
    nodes.Start();
    std::fprintf(stderr,
                 "keyferry status: serving /status and /metrics of %s on %s (port %d; the "
                 "dashboard is that URL) until Ctrl-C\n",
                 target->name.c_str(), observe::ServedUrl(*listen, server.port()).c_str(),
                 server.port());
  }
  int code = RunStatusLoop(args, *target, *journal);
  if (listen) {
    // Served from the journal until SIGINT/SIGTERM, whatever the phase.
    while (SleepUnlessStopped(std::chrono::milliseconds(1000))) {
    }
    server.Stop();
  }
  return code;
}

// Prints once, or with --watch until a terminal phase or a stop; the exit code.
int RunStatusLoop(const JournalArgs& args, const Target& t, Journal& journal) {
  bool tty = ::isatty(STDOUT_FILENO) != 0;
  for (;;) {
    auto view = observe::ReadJournalStatus(journal);
    if (!view) {
      std::fprintf(stderr, "keyferry status: %s\n", view.error().ToString().c_str());
      return kExitError;
    }
    if (args.json) {
      std::printf("%s\n", observe::JournalStatusJson(t.name, t.state_dir, *view).dump().c_str());
      std::fflush(stdout);
    } else {
      if (args.watch && tty) std::printf("\033[H\033[2J");
      PrintStatusText(t, *view);
      if (args.watch && !tty) std::printf("\n");
    }
    if (!args.watch) return kExitOk;
    if (view->terminal()) return WatchExitCode(*view);
    if (!SleepUnlessStopped(std::chrono::milliseconds(1000))) return kExitOk;
  }
}

int RunEvents(const JournalArgs& args) {
  auto target = Resolve(args, "events");
  if (!target) {
    std::fprintf(stderr, "keyferry events: %s\n", target.error().ToString().c_str());
    return kExitError;
  }
  int exit_code = kExitOk;
  std::unique_ptr<Journal> journal;
  if (args.follow) {
    // Started before the apply: wait for its journal instead of giving up.
    InstallStopHandlers();
    bool told = false;
    for (;;) {
      auto opened = Journal::Open(target->state_dir, Journal::Mode::kReadOnly);
      if (opened) {
        journal = std::move(*opened);
        break;
      }
      if (opened.error().code != control::ControlErrc::kJournalMissing) {
        std::fprintf(stderr, "keyferry events: %s\n", opened.error().ToString().c_str());
        return kExitError;
      }
      if (!told) {
        std::fprintf(stderr,
                     "keyferry events: waiting for the migration %s to start (no journal in %s "
                     "yet)\n",
                     target->name.c_str(), target->state_dir.c_str());
        told = true;
      }
      if (!SleepUnlessStopped(std::chrono::milliseconds(200))) return kExitOk;
    }
  } else {
    journal = OpenOrExplain(&*target, &exit_code);
    if (!journal) return exit_code;
  }
  int64_t after = args.after;
  bool printed_any = false;
  if (!args.json) {
    std::printf("%-23s  %-12s  %-8s  %s\n", "TIME", "PHASE", "KIND", "MESSAGE");
  }
  for (;;) {
    // Read the phase before the events: if it is terminal, every event was written before it
    // and the batch below holds the last of them.
    auto phase = journal->Get(control::kKeyPhase);
    if (!phase) {
      std::fprintf(stderr, "keyferry events: %s\n", phase.error().ToString().c_str());
      return kExitError;
    }
    bool terminal = false;
    if (*phase) {
      auto p = control::ParsePhase(**phase);
      terminal = p && control::IsTerminal(*p);
    }
    for (;;) {
      auto events = journal->ListEvents(after, 1000);
      if (!events) {
        std::fprintf(stderr, "keyferry events: %s\n", events.error().ToString().c_str());
        return kExitError;
      }
      for (const Event& e : *events) {
        if (args.json) {
          std::printf("%s\n", observe::EventJson(e).dump().c_str());
        } else {
          std::printf("%s\n", EventLine(e).c_str());
        }
        after = e.id;
        printed_any = true;
      }
      std::fflush(stdout);
      if (events->size() < 1000) break;
    }
    if (!args.follow || terminal) break;
    if (!SleepUnlessStopped(std::chrono::milliseconds(500))) break;
  }
  if (!printed_any && !args.json && !args.follow) std::printf("(no events yet)\n");
  return kExitOk;
}

void AddJournalOptions(CLI::App* sub, JournalArgs* args) {
  auto* file = sub->add_option("-f,--file", args->spec_path, "the migration spec (YAML)");
  auto* dir = sub->add_option("--state-dir", args->state_dir,
                              "the migration's state dir, instead of the spec");
  file->excludes(dir);
  sub->add_flag("--json", args->json, "print JSON (one object per line)");
}

}  // namespace

void RegisterStatusCommands(CLI::App& app, CliState& state) {
  auto status_args = std::make_shared<JournalArgs>();
  auto* status = app.add_subcommand("status", "where the migration stands (read from its journal)");
  AddJournalOptions(status, status_args.get());
  status->add_flag("--watch", status_args->watch,
                   "refresh every second until the migration ends (or Ctrl-C)");
  AddListenFlags(status, &status_args->listen, "--listen",
                 "serve /status and /metrics at HOST:PORT from the journal until Ctrl-C "
                 "(docs/observe.md)");
  status->callback(
      [&state, status_args] { state.run = [status_args] { return RunStatus(*status_args); }; });

  auto events_args = std::make_shared<JournalArgs>();
  auto* events = app.add_subcommand("events", "the migration's event log");
  AddJournalOptions(events, events_args.get());
  events->add_flag("--follow", events_args->follow,
                   "keep printing new events until the migration ends (or Ctrl-C)");
  events->add_option("--after", events_args->after, "only events with an id above this")
      ->check(CLI::NonNegativeNumber);
  events->callback(
      [&state, events_args] { state.run = [events_args] { return RunEvents(*events_args); }; });
}

}  // namespace kf::cli
