// What sync, apply, verify and restore show while they work (docs/progress.md): --quiet,
// and the progress samples each command's numbers make for observe::TerminalProgress.
#pragma once

#include <CLI/CLI.hpp>
#include <mutex>
#include <optional>
#include <string>

#include "cli/cli_app.h"
#include "observe/terminal_progress.h"
#include "sync/restore.h"
#include "sync/sync_engine.h"
#include "verify/verifier.h"

namespace kf::cli {

// Adds --quiet to `sub`, stored in `quiet`.
void AddQuietFlag(CLI::App* sub, bool* quiet);
// Called from `sub`'s callback: with --quiet, warnings in the log are not printed (level
// "error") unless --log-level was given; errors never go silent.
void ApplyQuiet(CLI::App* sub, bool quiet, CliState* state);

// The snapshot's bar (keys against the source's key count, an estimate; or RDB bytes
// against the announced size when the count is unknown), the streaming line, or nothing
// while connecting.
observe::ProgressSample SyncSample(const sync::SyncStats& stats);
// The restore's bar: bytes read against the file's size (unknown for standard input).
observe::ProgressSample RestoreSample(const sync::RestoreProgress& progress);

// The last VerifyProgress, set on the verify's thread and sampled on the progress thread.
class VerifyProgressSlot {
 public:
  // nullptr: no verify runs (any more).
  void Set(const verify::VerifyProgress* progress);
  bool running();
  // The verify's bar (keys checked against keys_expected in round 1, a count after).
  observe::ProgressSample Sample();

 private:
  struct Copy {
    verify::VerifyProgress progress;
    std::string phase;  // progress.phase points into the verifier
  };
  std::mutex mu_;
  std::optional<Copy> last_;
};

}  // namespace kf::cli
