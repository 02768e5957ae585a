// --quiet and the progress samples of the long-running commands.
#include "cli/progress_output.h"

namespace kf::cli {

void AddQuietFlag(CLI::App* sub, bool* quiet) {
  sub->add_flag("--quiet,-q", *quiet,
                "print only the result (the summary, report and errors); no progress");
}

void ApplyQuiet(CLI::App* sub, bool quiet, CliState* state) {
  if (!quiet) return;
  const CLI::App* root = sub->get_parent();
  if (root != nullptr && root->count("--log-level") > 0) return;
  state->log_level = "error";
}

observe::ProgressSample SyncSample(const sync::SyncStats& s) {
  observe::ProgressSample out;
  switch (static_cast<sync::SyncPhase>(s.phase.load())) {
    case sync::SyncPhase::kSnapshot: {
      out.kind = observe::ProgressSample::Kind::kBar;
      auto& bar = out.bar;
      bar.label = "snapshot";
      const uint64_t estimate = s.snapshot_keys_estimate.load();
      const uint64_t total_bytes = s.snapshot_total_bytes.load();
      if (estimate == 0 && total_bytes > 0) {
        // No key count from the source, but the RDB's size was announced: bytes, exact.
        bar.unit = observe::ProgressUnit::kBytes;
        bar.done = s.snapshot_bytes.load();
        bar.total = total_bytes;
        bar.note = observe::FormatCount(s.snapshot_keys.load()) + " keys";
      } else {
        bar.done = s.snapshot_keys.load();
        bar.total = estimate;
        bar.estimate = true;
      }
      return out;
    }
    case sync::SyncPhase::kStream: {
      out.kind = observe::ProgressSample::Kind::kStream;
      const int64_t src = s.source_offset.load(), applied = s.applied_offset.load();
      if (src >= 0 && applied >= 0) out.stream.lag_bytes = src > applied ? src - applied : 0;
      out.stream.lag_ms = s.lag_ms.load();
      out.stream.applied = s.commands_applied.load();
      return out;
    }
    default:
      return out;
  }
}

observe::ProgressSample RestoreSample(const sync::RestoreProgress& p) {
  observe::ProgressSample out;
  out.kind = observe::ProgressSample::Kind::kBar;
  out.bar.label = "restore";
  out.bar.unit = observe::ProgressUnit::kBytes;
  out.bar.done = p.bytes_read.load();
  out.bar.total = p.total_bytes.load();
  out.bar.note = observe::FormatCount(p.keys_written.load()) + " keys";
  return out;
}

void VerifyProgressSlot::Set(const verify::VerifyProgress* progress) {
  std::lock_guard lock(mu_);
  if (progress == nullptr) {
    last_.reset();
    return;
  }
  last_ = Copy{*progress, std::string(progress->phase)};
  last_->progress.phase = {};
}

bool VerifyProgressSlot::running() {
  std::lock_guard lock(mu_);
  return last_.has_value();
}

observe::ProgressSample VerifyProgressSlot::Sample() {
  std::lock_guard lock(mu_);
  observe::ProgressSample out;
  if (!last_) return out;
  const verify::VerifyProgress& p = last_->progress;
  out.kind = observe::ProgressSample::Kind::kBar;
  auto& bar = out.bar;
  bar.label = "verify";
  bar.done = p.keys_checked;
  bar.total = p.keys_expected;
  bar.estimate = true;
  std::string note;
  if (p.last_round > 1) {
    note = "round " + std::to_string(p.round) + "/" + std::to_string(p.last_round) + "  ";
  }
  if (last_->phase != "source keys") note += last_->phase + "  ";
  note += "differing " + observe::FormatGrouped(p.differing_keys);
  bar.note = std::move(note);
  return out;
}

}  // namespace kf::cli
