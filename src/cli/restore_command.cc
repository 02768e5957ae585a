// keyferry restore: load an RDB backup file (or standard input) into Valkey, standalone or
// cluster, through the same snapshot path as sync (sync/restore.h; docs/restore.md).
//
//   keyferry restore FILE|- --target URI [--db-map S:D] [--match G] [--exclude G]
//                    [--on-unsupported fail|skip|drop-field-ttl] [--flush-target]
//                    [--big-key-threshold N] [--writers N] [--no-verify] [--json]
//                    [--target-tls-ca-cert FILE ... --target-tls-insecure] (docs/tls.md)
//
// Exit 0: every key of the file (less those filtered or skipped, counted in the summary)
// is on the target, the file's checksum matched, and (a file, not standard input, unless
// --no-verify) the file read again compares equal with the target key by key
// (verify/rdb_file_compare.h). Exit 1: the restore finished but the comparison found
// differences (listed). Exit 2: refused before writing (a
// non-empty or evicting target, bad options) or failed while writing — the target is then
// emptied again, or, when that fails too, flagged by keyferry's marker; the message says
// which. SIGINT/SIGTERM stop it the same way (exit 2, target emptied).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli_app.h"
#include "cli/progress_output.h"
#include "cli/tls_flags.h"
#include "net/uri.h"
#include "observe/terminal_progress.h"
#include "sync/restore.h"
#include "verify/rdb_file_compare.h"

namespace kf::cli {
namespace {

std::atomic<bool> g_restore_stop{false};

void OnRestoreSignal(int) { g_restore_stop.store(true); }

struct RestoreArgs {
  std::string file;
  std::string target;
  std::vector<std::string> db_map;
  std::vector<std::string> match;
  std::vector<std::string> exclude;
  std::string on_unsupported = "fail";
  uint64_t big_key_threshold = uint64_t{64} << 20;
  int writers = 2;
  bool flush_target = false;
  bool no_verify = false;
  bool json = false;
  bool quiet = false;
  TlsFlags target_tls;
};

std::string Mebibytes(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

int Fail(const RestoreArgs& args, const std::string& message) {
  std::fprintf(stderr, "keyferry restore failed: %s\n", message.c_str());
  if (args.json) {
    nlohmann::json j = {{"result", "error"}, {"error", message}};
    std::printf("%s\n", j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace).c_str());
  }
  return kExitError;
}

int RunRestore(const RestoreArgs& args) {
  auto target = net::Uri::Parse(args.target);
  if (!target) return Fail(args, "--target: " + target.error().ToString());
  if (auto applied = ApplyTlsFlags(args.target_tls, "target", &*target); !applied) {
    return Fail(args, applied.error().ToString());
  }
  // Said at the start and again in the summary: an insecure link must not go unnoticed.
  const std::string insecure = InsecureWarning(*target, "target");
  if (!insecure.empty() && !args.quiet) {
    std::fprintf(stderr, "keyferry restore: %s\n", insecure.c_str());  // --quiet: in the result
  }
  auto input = source::RdbFileInput::Open(args.file);
  if (!input) return Fail(args, input.error().ToString());
  if (input->is_stdin() && ::isatty(STDIN_FILENO)) {
    return Fail(args,
                "FILE is - but standard input is a terminal; pipe the backup in, e.g. "
                "`curl ... | keyferry restore - --target URI`");
  }
  sync::RestoreOptions options;
  options.target = *target;
  options.db_map = args.db_map;
  options.match = args.match;
  options.exclude = args.exclude;
  options.big_key_threshold = args.big_key_threshold;
  options.writers = args.writers;
  options.flush_target = args.flush_target;
  if (args.on_unsupported == "skip") {
    options.on_unsupported = sync::OnUnsupported::kSkip;
  } else if (args.on_unsupported == "drop-field-ttl") {
    options.on_unsupported = sync::OnUnsupported::kDropFieldTtl;
  }

  struct sigaction sa {};
  sa.sa_handler = OnRestoreSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  // The bar on stderr (docs/progress.md): bytes read against the file's size.
  sync::RestoreProgress progress;
  observe::TerminalProgress bar(
      {.mode = observe::ChooseProgressMode(args.quiet), .plain_prefix = "keyferry restore: "},
      [&progress] { return RestoreSample(progress); });
  bar.Start();
  auto result = sync::RestoreRdb(*input, options, &progress, g_restore_stop);
  bar.Stop();
  if (!result) return Fail(args, result.error().ToString());

  const sync::RestoreSummary& s = *result;
  const double seconds = s.ms / 1000.0;

  // The proof: the file read again and compared with the target, key by key. Standard
  // input cannot be read twice.
  std::optional<verify::RdbFileCompareReport> compared;
  std::string verify_note;
  if (args.no_verify) {
    verify_note = "not verified (--no-verify)";
  } else if (input->is_stdin()) {
    verify_note =
        "not verified against the file: standard input cannot be read twice (restore from a "
        "file to have it verified)";
  } else {
    auto again = source::RdbFileInput::Open(args.file);
    if (!again) return Fail(args, "verifying: " + again.error().ToString());
    verify::RdbFileCompareOptions vo;
    vo.match = args.match;
    vo.exclude = args.exclude;
    vo.db_map = args.db_map;
    vo.drop_field_ttls = args.on_unsupported == "drop-field-ttl";
    vo.skip_field_ttl_hashes = args.on_unsupported == "skip";
    vo.big_value_bytes = args.big_key_threshold;
    auto report = verify::CompareRdbFileWithTarget(*again, *target, vo);
    if (!report) {
      return Fail(args,
                  "the restore finished, but verifying it failed: " + report.error().ToString() +
                      ". Run it again, or check the target with keyferry verify");
    }
    compared = *report;
    verify_note = report->equal()
                      ? "verified: the target holds exactly the file's " +
                            std::to_string(report->expected_keys) + " keys (" +
                            std::to_string(report->keys_equal) + " compared by value" +
                            (report->type_only > 0 ? ", " + std::to_string(report->type_only) +
                                                         " big ones by type and expiry only"
                                                   : std::string()) +
                            ") and its function libraries"
                      : "DIFFERENCES between the file and the target";
  }
  if (args.json) {
    nlohmann::json j = {{"result", "ok"},
                        {"source", s.source},
                        {"target", s.target},
                        {"rdb_version", s.rdb_version},
                        {"bytes", s.bytes},
                        {"keys_written", s.keys_written},
                        {"keys_skipped", s.keys_skipped},
                        {"keys_chunked", s.keys_chunked},
                        {"functions_loaded", s.functions_loaded},
                        {"checksum_checked", s.checksum_checked},
                        {"target_flushed", s.target_flushed},
                        {"ms", s.ms},
                        {"verify", verify_note}};
    if (!insecure.empty()) j["warnings"] = {insecure};
    if (compared) {
      j["verify_equal"] = compared->equal();
      j["verify_differences"] = compared->differences;
      j["verify_examples"] = compared->examples;
      if (!compared->equal()) j["result"] = "differences";
    }
    std::printf("%s\n", j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace).c_str());
  }
  std::fprintf(stderr,
               "keyferry restore: done in %.1f s: %s (RDB %d, %s) into %s: %llu keys written "
               "(%llu chunked), %llu skipped, %llu function libraries; %s; %s\n",
               seconds, s.source.c_str(), s.rdb_version, Mebibytes(s.bytes).c_str(),
               s.target.c_str(), static_cast<unsigned long long>(s.keys_written),
               static_cast<unsigned long long>(s.keys_chunked),
               static_cast<unsigned long long>(s.keys_skipped),
               static_cast<unsigned long long>(s.functions_loaded),
               s.checksum_checked ? "the file's CRC64 checksum matched"
                                  : "the file carries no checksum, so its bytes could not be "
                                    "checked",
               verify_note.c_str());
  if (!insecure.empty()) std::fprintf(stderr, "keyferry restore: %s\n", insecure.c_str());
  if (compared && !compared->equal()) {
    for (const auto& line : compared->examples) std::fprintf(stderr, "  %s\n", line.c_str());
    std::fprintf(stderr,
                 "keyferry restore: the target does not hold exactly what the file holds "
                 "(%llu differences); something else wrote to it during the restore, or this is "
                 "a keyferry bug: compare again with keyferry verify, or restore again with "
                 "--flush-target\n",
                 static_cast<unsigned long long>(compared->differences));
    return kExitRefused;
  }
  return kExitOk;
}

}  // namespace

void RegisterRestoreCommand(CLI::App& app, CliState& state) {
  auto args = std::make_shared<RestoreArgs>();
  auto* sub = app.add_subcommand("restore",
                                 "load an RDB backup file (or - for standard input) into Valkey");
  sub->add_option("file", args->file, "the RDB file, or - to read standard input")->required();
  sub->add_option("--target", args->target,
                  "target URI redis://[user:pass@]host:port (any node "
                  "of a cluster)")
      ->required();
  sub->add_option("--db-map", args->db_map, "SRC:DST database mapping (repeatable)");
  sub->add_option("--match", args->match, "load only keys matching this glob (repeatable)");
  sub->add_option("--exclude", args->exclude, "skip keys matching this glob (repeatable)");
  sub->add_option("--on-unsupported", args->on_unsupported,
                  "what to do with values the target cannot hold")
      ->check(CLI::IsMember({"fail", "skip", "drop-field-ttl"}))
      ->capture_default_str();
  sub->add_option("--big-key-threshold", args->big_key_threshold,
                  "values above this many bytes are sent as chunked commands")
      ->capture_default_str();
  sub->add_option("--writers", args->writers, "target connections (per primary of a cluster)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  sub->add_flag("--flush-target", args->flush_target,
                "empty a non-empty target first (otherwise keyferry refuses it)");
  AddTlsFlags(sub, "target", &args->target_tls);
  sub->add_flag("--no-verify", args->no_verify,
                "skip reading the file again to compare it with the target key by key");
  sub->add_flag("--json", args->json, "print the summary as one JSON object on stdout");
  AddQuietFlag(sub, &args->quiet);
  sub->callback([&state, args, sub] {
    ApplyQuiet(sub, args->quiet, &state);
    state.run = [args] { return RunRestore(*args); };
  });
}

}  // namespace kf::cli
