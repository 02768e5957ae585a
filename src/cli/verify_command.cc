// keyferry verify: compare a source and a target key by key (a thin shell over
// verify::Verify, which holds the engine).
//
// Prints the human report (or, with --json, one JSON document) on stdout; progress on
// stderr (a bar on a terminal, a plain line every 5 s otherwise, none with --quiet:
// cli/progress_output.h). Exit 0 when equal, 1 when differences remain after
// the last round, 2 on errors (unreachable end, lost connection, bad options, stopped by
// SIGINT/SIGTERM) — an incomplete compare never exits 0. A source and a target that are
// one server (the same run_id in INFO server, however the URIs spell it) are refused with
// exit 2: comparing a server with itself proves nothing.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/cli_app.h"
#include "cli/progress_output.h"
#include "cli/tls_flags.h"
#include "net/identity_probe.h"
#include "net/uri.h"
#include "observe/terminal_progress.h"
#include "verify/verifier.h"

namespace kf::cli {
namespace {

std::atomic<bool> g_verify_stop{false};

void OnVerifySignal(int) { g_verify_stop.store(true); }

struct VerifyArgs {
  std::string source;
  std::string target;
  std::string mode = "full";
  int rounds = 0;
  std::string interval = "1s";
  int64_t ttl_tolerance_ms = 0;
  std::vector<std::string> match;
  std::vector<std::string> exclude;
  std::vector<int> dbs;
  std::vector<std::string> db_map;
  uint64_t max_ops = 0;
  size_t batch = 1000;
  uint64_t big_value_bytes = uint64_t{1} << 20;
  size_t max_tracked_keys = 100000;
  size_t examples = 10;
  uint64_t seed = 0;
  bool no_functions = false;
  bool json = false;
  bool quiet = false;
  TlsFlags source_tls;
  TlsFlags target_tls;
};

int Fail(const VerifyArgs& args, const std::string& message) {
  std::fprintf(stderr, "keyferry verify failed: %s\n", message.c_str());
  if (args.json) {
    nlohmann::json j = {{"result", "error"}, {"error", message}};
    std::printf("%s\n", j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace).c_str());
  }
  return kExitError;
}

int RunVerify(const VerifyArgs& args) {
  auto source = net::Uri::Parse(args.source);
  if (!source) return Fail(args, "--source: " + source.error().ToString());
  auto target = net::Uri::Parse(args.target);
  if (!target) return Fail(args, "--target: " + target.error().ToString());
  if (auto applied = ApplyTlsFlags(args.source_tls, "source", &*source); !applied) {
    return Fail(args, applied.error().ToString());
  }
  if (auto applied = ApplyTlsFlags(args.target_tls, "target", &*target); !applied) {
    return Fail(args, applied.error().ToString());
  }
  // An unverified end is said on stderr at the start and in the report (text and JSON).
  std::vector<std::string> warnings;
  for (const auto& [end, uri] : {std::pair{"source", &*source}, {"target", &*target}}) {
    if (std::string w = InsecureWarning(*uri, end); !w.empty()) {
      if (!args.quiet) std::fprintf(stderr, "keyferry verify: %s\n", w.c_str());
      warnings.push_back(std::move(w));
    }
  }
  {
    // An end that cannot be asked is reported by the compare itself, with its own words.
    auto source_id = net::ReadServerIdentity(*source);
    auto target_id = source_id ? net::ReadServerIdentity(*target)
                               : Result<net::ServerIdentity>(net::ServerIdentity{});
    if (source_id && target_id && net::SameServer(*source_id, *target_id)) {
      return Fail(args, net::SameServerMessage(*source, *target, *target_id) +
                            "; comparing a server with itself proves nothing: point --target at "
                            "the other server");
    }
  }

  verify::VerifyOptions options;
  if (auto mode = verify::ParseMode(args.mode, &options); !mode) {
    return Fail(args, mode.error().ToString());
  }
  auto interval = verify::ParseDuration(args.interval);
  if (!interval) return Fail(args, "--interval: " + interval.error().ToString());
  options.interval = *interval;
  options.rounds = args.rounds;
  options.ttl_tolerance_ms = args.ttl_tolerance_ms;
  options.match = args.match;
  options.exclude = args.exclude;
  options.dbs = args.dbs;
  options.db_map = args.db_map;
  options.max_ops = args.max_ops;
  options.scan_batch = args.batch;
  options.big_value_bytes = args.big_value_bytes;
  options.max_tracked_keys = args.max_tracked_keys;
  options.max_examples = args.examples;
  options.sample_seed = args.seed;
  options.compare_functions = !args.no_functions;

  struct sigaction sa {};
  sa.sa_handler = OnVerifySignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  // The bar on stderr (docs/progress.md): fed on the verify's thread, drawn on its own.
  VerifyProgressSlot slot;
  observe::TerminalProgress bar(
      {.mode = observe::ChooseProgressMode(args.quiet), .plain_prefix = "keyferry verify: "},
      [&slot] { return slot.Sample(); });
  bar.Start();
  auto report = verify::Verify(
      *source, *target, options, [&slot](const verify::VerifyProgress& p) { slot.Set(&p); },
      &g_verify_stop);
  bar.Stop();
  if (!report) return Fail(args, report.error().ToString());
  if (args.json) {
    if (warnings.empty()) {
      std::printf("%s\n", verify::ReportToJson(*report).c_str());
    } else {
      nlohmann::json j = nlohmann::json::parse(verify::ReportToJson(*report));
      j["warnings"] = warnings;
      std::printf("%s\n", j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace).c_str());
    }
  } else {
    for (const auto& w : warnings) std::printf("%s\n", w.c_str());
    std::fputs(verify::ReportToText(*report).c_str(), stdout);
  }
  return report->equal ? kExitOk : kExitRefused;
}

}  // namespace

void RegisterVerifyCommand(CLI::App& app, CliState& state) {
  auto args = std::make_shared<VerifyArgs>();
  auto* sub = app.add_subcommand(
      "verify",
      "compare a source and a target key by key: key sets, types, values, expiries and "
      "function libraries (exit 0 equal, 1 different, 2 error)");
  sub->add_option("--source", args->source, "source URI redis[s]://[user:pass@]host:port[/db]")
      ->required();
  sub->add_option("--target", args->target, "target URI redis[s]://[user:pass@]host:port[/db]")
      ->required();
  AddTlsFlags(sub, "source", &args->source_tls);
  AddTlsFlags(sub, "target", &args->target_tls);
  sub->add_option("--mode", args->mode,
                  "full (values too), keys (existence, type and TTL only) or sample:RATE "
                  "(a random fraction of keys, e.g. sample:0.01 or sample:5%)")
      ->capture_default_str();
  sub->add_option("--rounds", args->rounds,
                  "re-check the keys that differed this many more times (for a live sync)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  sub->add_option("--interval", args->interval,
                  "pause before each re-check round (500ms, 2s, 1m; a bare number is seconds)")
      ->capture_default_str();
  sub->add_option("--ttl-tolerance-ms", args->ttl_tolerance_ms,
                  "absolute expiries this close count as equal")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--match", args->match, "compare only keys matching this glob (repeatable)");
  sub->add_option("--exclude", args->exclude, "skip keys matching this glob (repeatable)");
  sub->add_option("--db", args->dbs,
                  "compare only this source database (repeatable; default: every database "
                  "with keys on either end)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--db-map", args->db_map, "SRC:DST database mapping, as given to sync");
  sub->add_option("--max-ops", args->max_ops,
                  "at most this many commands per second to each end (0 = no limit)")
      ->capture_default_str();
  sub->add_option("--batch", args->batch, "keys per SCAN and per pipelined batch")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  sub->add_option("--big-value-bytes", args->big_value_bytes,
                  "values above this size (MEMORY USAGE) are read in windows, not whole")
      ->capture_default_str();
  sub->add_option("--max-tracked-keys", args->max_tracked_keys,
                  "differing keys kept for re-check and the report; more are only counted")
      ->check(CLI::Range(1, 100000000))
      ->capture_default_str();
  sub->add_option("--examples", args->examples, "differences listed in the report")
      ->capture_default_str();
  sub->add_option("--seed", args->seed, "random seed for sample mode (0 = random)");
  sub->add_flag("--no-functions", args->no_functions, "do not compare function libraries");
  sub->add_flag("--json", args->json, "print the report as one JSON document");
  AddQuietFlag(sub, &args->quiet);
  sub->callback([&state, args, sub] {
    ApplyQuiet(sub, args->quiet, &state);
    state.run = [args] { return RunVerify(*args); };
  });
}

}  // namespace kf::cli
