// kf_app_workload check: reads the records a run wrote (format in app_workload_run.cc) and
// the server the endpoint file names, and checks, per thread, that the server holds exactly
// what the acknowledged operations imply. An uncertain operation (sent, never answered) may
// have run once or not at all: where a value is a sum, the difference from the acknowledged
// sum must be the sum of some subset of the uncertain operations (checked exactly).
// Operations the server refused (`err`) did not run and are only counted. The checks, each
// printed as "check <name>: ok|FAIL (<numbers>)" followed by what is wrong:
//   sessions     each key holds the token of its last acknowledged SET (or of an uncertain SET
//                sent after it) while that SET's TTL runs, is gone once it ran out, and its
//                expiry lies within [sent + ttl, answered + ttl] (± the margin)
//   counters     each value in acknowledged + a subset of the uncertain INCRs
//   leaderboard  each score (in quarters, exact) likewise for ZINCRBY
//   jobs         no job taken twice or lost, taken in push order (FIFO), every pushed job in
//                exactly one of: finished, app:processing (taken, not finished), app:jobs
//   stream       every acknowledged XADD's entry in order with its field, nothing unknown,
//                no entry delivered twice, the pending list = delivered - acknowledged,
//                XINFO GROUPS last-delivered-id, entries-read, lag and pending exact
//   transfers    a + b = the initial total; a = initial - acknowledged - a subset of uncertain
//   lua          each hash field like counters
//   keys         no app:* key the workload never wrote; each key of the expected type
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "app_workload.h"
#include "net/client.h"

namespace kf::app {
namespace {

using Fields = std::vector<std::string>;

struct CheckReport {
  std::string name;
  std::string numbers;
  std::vector<std::string> problems;
};

bool ParseInt(const std::string& s, int64_t* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

int64_t IntOr(const std::string& s, int64_t fallback) {
  int64_t v = 0;
  return ParseInt(s, &v) ? v : fallback;
}

// Reads <dir>/<name>.log as lines of space-separated fields.
bool ReadRecord(const std::string& dir, const std::string& name, std::vector<Fields>* lines,
                std::string* error) {
  std::ifstream in(dir + "/" + name + ".log");
  if (!in) {
    *error = "the record " + dir + "/" + name +
             ".log is missing; was `kf_app_workload run` stopped by SIGTERM (not SIGKILL) with "
             "--record " +
             dir + "?";
    return false;
  }
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    Fields f;
    for (std::string w; words >> w;) f.push_back(w);
    if (!f.empty()) lines->push_back(std::move(f));
  }
  return true;
}

// A stream entry id "ms-seq" as a comparable pair; {0, 0} for "0-0" and for bad text.
using StreamId = std::pair<uint64_t, uint64_t>;
StreamId ParseStreamId(const std::string& s) {
  StreamId id{0, 0};
  size_t dash = s.find('-');
  if (dash == std::string::npos) return id;
  std::from_chars(s.data(), s.data() + dash, id.first);
  std::from_chars(s.data() + dash + 1, s.data() + s.size(), id.second);
  return id;
}

// Whether some subset of `uncertain` sums to `diff` (each uncertain operation ran once or
// not at all). Past a million distinct partial sums, falls back to the bounds.
bool SubsetSum(int64_t diff, const std::vector<int64_t>& uncertain) {
  std::set<int64_t> reachable = {0};
  int64_t low = 0, high = 0;
  for (int64_t u : uncertain) {
    (u < 0 ? low : high) += u;
    if (reachable.size() > 1000000) continue;
    std::vector<int64_t> next(reachable.begin(), reachable.end());
    for (int64_t r : next) reachable.insert(r + u);
  }
  if (reachable.size() > 1000000) return diff >= low && diff <= high;
  return reachable.count(diff) > 0;
}

// "1 key", "2 keys"; `plural` when adding "s" is wrong ("entry", "entries").
std::string Plural(size_t n, const std::string& word, const std::string& plural = "") {
  if (n == 1) return "1 " + word;
  return std::to_string(n) + " " + (plural.empty() ? word + "s" : plural);
}

// An integer reply as its digits, anything else as the reply renders ("(nil)", ...).
std::string Show(const resp::Reply& r) {
  return r.type() == resp::ReplyType::kInteger ? std::to_string(r.integer()) : r.ToString();
}

// Sums per key (a counter, a hash field, a member) of acknowledged and uncertain amounts.
struct Amounts {
  std::map<std::string, int64_t> acked;
  std::map<std::string, std::vector<int64_t>> uncertain;
  size_t acked_ops = 0, uncertain_ops = 0, refused_ops = 0;
};

// Collects lines "<op> ack|unc|err <key> [amount]"; amount 1 when amount_field < 0.
Amounts CollectAmounts(const std::vector<Fields>& lines, const std::string& op, int amount_field) {
  Amounts a;
  for (const auto& f : lines) {
    if (f.size() < 3 || f[0] != op) continue;
    int64_t amount = amount_field < 0 ? 1 : IntOr(f.size() > 3 ? f[3] : "", 0);
    if (f[1] == "ack") {
      a.acked[f[2]] += amount;
      a.uncertain[f[2]];
      ++a.acked_ops;
    } else if (f[1] == "unc") {
      a.acked[f[2]];
      a.uncertain[f[2]].push_back(amount);
      ++a.uncertain_ops;
    } else {
      ++a.refused_ops;
    }
  }
  return a;
}

// Compares `observed` (missing keys are absent) with `expected`; `show` prints an amount
// in the unit of the data (e.g. quarters as a score).
void CompareAmounts(const std::string& label, const Amounts& expected,
                    const std::map<std::string, int64_t>& observed,
                    const std::function<std::string(int64_t)>& show, CheckReport* report) {
  for (const auto& [key, acked] : expected.acked) {
    const auto& unc = expected.uncertain.at(key);
    auto it = observed.find(key);
    int64_t value = it == observed.end() ? 0 : it->second;
    if (SubsetSum(value - acked, unc)) continue;
    int64_t low = acked, high = acked;
    for (int64_t u : unc) (u < 0 ? low : high) += u;
    report->problems.push_back(
        label + key + ": " + (it == observed.end() ? "missing (0)" : show(value)) +
        ", but the acknowledged operations add up to " + show(acked) +
        (unc.empty() ? " and none was uncertain"
                     : "; with " + Plural(unc.size(), "uncertain operation") +
                           " it must be that plus some of them, within [" + show(low) + ", " +
                           show(high) + "]"));
  }
  for (const auto& [key, value] : observed) {
    if (!expected.acked.count(key)) {
      report->problems.push_back(label + key + ": " + show(value) +
                                 ", but the workload never wrote it");
    }
  }
}

std::string ShowInt(int64_t v) { return std::to_string(v); }

class Checker {
 public:
  Checker(net::Client* client, const CheckOptions& options) : db_(client), options_(options) {}

  // The reply of one command, or a problem recorded in `report` (nullopt).
  std::optional<resp::Reply> Ask(const std::vector<std::string>& args, CheckReport* report) {
    auto r = db_->Call(args);
    if (!r) {
      report->problems.push_back(args[0] + " failed: " + r.error().ToString());
      return std::nullopt;
    }
    if (r->is_error()) {
      report->problems.push_back(args[0] + " " + (args.size() > 1 ? args[1] : "") + " answered " +
                                 r->ToString());
      return std::nullopt;
    }
    return std::move(*r);
  }

  CheckReport Sessions(const std::vector<Fields>& lines);
  CheckReport Counters(const std::vector<Fields>& lines);
  CheckReport Leaderboard(const std::vector<Fields>& lines);
  CheckReport Jobs(const std::vector<Fields>& lines);
  CheckReport Stream(const std::vector<Fields>& lines);
  CheckReport Transfers(const std::vector<Fields>& lines);
  CheckReport Lua(const std::vector<Fields>& lines);
  CheckReport Keys(const std::map<std::string, std::vector<Fields>>& records);

 private:
  net::Client* db_;
  const CheckOptions& options_;
};

CheckReport Checker::Sessions(const std::vector<Fields>& lines) {
  CheckReport report{"sessions", "", {}};
  struct Write {
    bool acked;
    std::string token;
    int64_t ttl, sent, answered;
  };
  std::map<std::string, std::vector<Write>> writes;
  size_t acked = 0, uncertain = 0;
  for (const auto& f : lines) {
    if (f.size() < 7 || f[0] != "set" || f[1] == "err") continue;
    bool is_acked = f[1] == "ack";
    (is_acked ? acked : uncertain)++;
    writes[f[2]].push_back({is_acked, f[3], IntOr(f[4], 0), IntOr(f[5], 0), IntOr(f[6], 0)});
  }
  const int64_t margin = options_.ttl_margin_ms;
  size_t live_last = 0, live_uncertain = 0, expired = 0;
  std::vector<std::string> keys;
  for (const auto& [k, w] : writes) keys.push_back(k);
  for (size_t b = 0; b < keys.size(); b += 100) {
    std::vector<std::vector<std::string>> commands;
    for (size_t i = b; i < std::min(keys.size(), b + 100); ++i) {
      commands.push_back({"GET", keys[i]});
      commands.push_back({"PEXPIRETIME", keys[i]});
    }
    int64_t before = WallMs();
    auto replies = db_->CallPipelined(commands);
    int64_t after = WallMs();
    if (!replies) {
      report.problems.push_back("reading sessions failed: " + replies.error().ToString());
      return report;
    }
    for (size_t i = b; i < std::min(keys.size(), b + 100); ++i) {
      const std::string& key = keys[i];
      const resp::Reply& value = (*replies)[2 * (i - b)];
      const resp::Reply& expiry = (*replies)[2 * (i - b) + 1];
      const auto& w = writes[key];
      // Candidates: the last acknowledged SET and the uncertain ones sent after it.
      size_t first = 0;
      for (size_t j = 0; j < w.size(); ++j) {
        if (w[j].acked) first = j;
      }
      if (value.is_error() || expiry.is_error()) {
        report.problems.push_back(key + ": GET/PEXPIRETIME answered " + value.ToString() + " / " +
                                  expiry.ToString());
        continue;
      }
      if (value.is_null() || expiry.integer() == -2) {
        // Gone: fine once the earliest expiry of some candidate has passed.
        bool may_be_gone = false;
        for (size_t j = first; j < w.size(); ++j) {
          if (w[j].sent + w[j].ttl <= after + margin) may_be_gone = true;
          if (!w[j].acked && j == first) may_be_gone = true;  // nothing acknowledged at all
        }
        if (may_be_gone) {
          ++expired;
        } else {
          const Write& last = w[first];
          report.problems.push_back(
              key + ": missing, but its last acknowledged SET (token " + last.token + ", PX " +
              std::to_string(last.ttl) + ") expires at the earliest " +
              std::to_string(last.sent + last.ttl - after) + " ms after this read (lost write)");
        }
        continue;
      }
      const Write* holder = nullptr;
      for (size_t j = first; j < w.size() && holder == nullptr; ++j) {
        if (w[j].token == value.str()) holder = &w[j];
      }
      if (holder == nullptr) {
        bool older =
            std::any_of(w.begin(), w.end(), [&](const Write& x) { return x.token == value.str(); });
        report.problems.push_back(key + ": holds token " + value.str() +
                                  (older ? " of an older SET" : " never written") +
                                  "; the last acknowledged SET wrote " +
                                  (w[first].acked ? w[first].token : "nothing") + " (lost write)");
        continue;
      }
      int64_t at = expiry.integer();
      int64_t low = holder->sent + holder->ttl - margin;
      int64_t high = holder->answered + holder->ttl + margin;
      if (at == -1) {
        report.problems.push_back(key + ": token " + holder->token +
                                  " has no TTL, but its SET had PX " + std::to_string(holder->ttl) +
                                  " (it would never expire)");
      } else if (at < low || at > high) {
        report.problems.push_back(key + ": token " + holder->token + " expires at " +
                                  std::to_string(at) + ", outside [" + std::to_string(low) + ", " +
                                  std::to_string(high) + "] implied by its SET PX " +
                                  std::to_string(holder->ttl));
      } else if (at < before - margin) {
        report.problems.push_back(key + ": token " + holder->token + " outlived its TTL by " +
                                  std::to_string(before - at) + " ms");
      } else {
        (holder->acked ? live_last : live_uncertain)++;
      }
    }
  }
  report.numbers = Plural(keys.size(), "key") + ": " + std::to_string(live_last) +
                   " hold the last acknowledged token, " + std::to_string(live_uncertain) +
                   " an uncertain later one, " + std::to_string(expired) + " expired as due; " +
                   std::to_string(acked) + " acknowledged SETs, " + std::to_string(uncertain) +
                   " uncertain; TTL margin " + std::to_string(margin) + " ms";
  return report;
}

CheckReport Checker::Counters(const std::vector<Fields>& lines) {
  CheckReport report{"counters", "", {}};
  Amounts expected = CollectAmounts(lines, "incr", -1);
  std::map<std::string, int64_t> observed;
  for (const auto& [key, acked] : expected.acked) {
    auto r = Ask({"GET", key}, &report);
    if (!r) return report;
    if (!r->is_null()) observed[key] = IntOr(r->str(), -1);
  }
  CompareAmounts("", expected, observed, ShowInt, &report);
  report.numbers = Plural(expected.acked.size(), "key") + ", " +
                   std::to_string(expected.acked_ops) + " acknowledged INCRs, " +
                   std::to_string(expected.uncertain_ops) + " uncertain";
  return report;
}

CheckReport Checker::Leaderboard(const std::vector<Fields>& lines) {
  CheckReport report{"leaderboard", "", {}};
  Amounts expected = CollectAmounts(lines, "zincrby", 3);
  std::map<std::string, int64_t> observed;
  auto r = Ask({"ZRANGE", kLeaderboardKey, "0", "-1", "WITHSCORES"}, &report);
  if (!r) return report;
  for (size_t i = 0; i + 1 < r->size(); i += 2) {
    double score = std::strtod((*r)[i + 1].str().c_str(), nullptr);
    double quarters = score * 4;
    if (quarters != std::floor(quarters)) {
      report.problems.push_back(std::string(kLeaderboardKey) + " " + (*r)[i].str() + ": score " +
                                (*r)[i + 1].str() + " is not a multiple of 0.25");
    }
    observed[(*r)[i].str()] = static_cast<int64_t>(quarters);
  }
  auto show = [](int64_t q) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", q / 4.0);
    return std::string(buf);
  };
  CompareAmounts(std::string(kLeaderboardKey) + " ", expected, observed, show, &report);
  report.numbers = Plural(expected.acked.size(), "member") + ", " +
                   std::to_string(expected.acked_ops) + " acknowledged ZINCRBYs, " +
                   std::to_string(expected.uncertain_ops) + " uncertain";
  return report;
}

CheckReport Checker::Lua(const std::vector<Fields>& lines) {
  CheckReport report{"lua", "", {}};
  Amounts expected = CollectAmounts(lines, "hincrby", 3);
  std::map<std::string, int64_t> observed;
  auto r = Ask({"HGETALL", kHashKey}, &report);
  if (!r) return report;
  for (size_t i = 0; i + 1 < r->size(); i += 2)
    observed[(*r)[i].str()] = IntOr((*r)[i + 1].str(), -1);
  CompareAmounts(std::string(kHashKey) + " ", expected, observed, ShowInt, &report);
  report.numbers = Plural(expected.acked.size(), "field") + ", " +
                   std::to_string(expected.acked_ops) + " acknowledged EVAL HINCRBYs, " +
                   std::to_string(expected.uncertain_ops) + " uncertain";
  return report;
}

CheckReport Checker::Transfers(const std::vector<Fields>& lines) {
  CheckReport report{"transfers", "", {}};
  int64_t acked_sum = 0;
  std::vector<int64_t> uncertain;
  size_t acked = 0;
  for (const auto& f : lines) {
    if (f.size() < 3 || f[0] != "transfer") continue;
    if (f[1] == "ack") {
      acked_sum += IntOr(f[2], 0);
      ++acked;
    } else if (f[1] == "unc") {
      uncertain.push_back(IntOr(f[2], 0));
    }
  }
  auto a = Ask({"GET", kAccountA}, &report);
  auto b = Ask({"GET", kAccountB}, &report);
  if (!a || !b) return report;
  int64_t va = 0, vb = 0;
  if (!ParseInt(a->str(), &va) || !ParseInt(b->str(), &vb)) {
    report.problems.push_back(std::string("balances are not integers: ") + kAccountA + "=" +
                              a->ToString() + " " + kAccountB + "=" + b->ToString());
    return report;
  }
  if (va + vb != 2 * kInitialBalance) {
    report.problems.push_back(std::string(kAccountA) + " + " + kAccountB + " = " +
                              std::to_string(va + vb) + ", not the initial total " +
                              std::to_string(2 * kInitialBalance) +
                              " (a transfer was applied in part or twice)");
  }
  int64_t expected_a = kInitialBalance - acked_sum;
  if (!SubsetSum(expected_a - va, uncertain)) {
    report.problems.push_back(std::string(kAccountA) + " = " + std::to_string(va) +
                              ", but the acknowledged transfers leave " +
                              std::to_string(expected_a) + "; no subset of the " +
                              Plural(uncertain.size(), "uncertain transfer") + " explains the " +
                              std::to_string(expected_a - va) + " difference");
  }
  report.numbers = std::string(kAccountA) + "=" + std::to_string(va) + " " + kAccountB + "=" +
                   std::to_string(vb) + ", " + std::to_string(acked) +
                   " acknowledged MULTI/EXEC transfers, " + std::to_string(uncertain.size()) +
                   " uncertain";
  return report;
}

CheckReport Checker::Jobs(const std::vector<Fields>& lines) {
  CheckReport report{"jobs", "", {}};
  std::set<std::string> pushed_acked, pushed_uncertain;
  std::vector<std::string> taken;
  size_t take_uncertain = 0;
  std::map<std::string, int64_t> finished;  // LREM acknowledged: job -> removed count
  std::set<std::string> finish_uncertain;
  for (const auto& f : lines) {
    if (f.size() < 2) continue;
    if (f[0] == "lpush" && f.size() >= 3 && f[1] != "err") {
      (f[1] == "ack" ? pushed_acked : pushed_uncertain).insert(f[2]);
    } else if (f[0] == "lmove" && f[1] == "ack" && f.size() >= 3) {
      taken.push_back(f[2]);
    } else if (f[0] == "lmove" && f[1] == "unc") {
      ++take_uncertain;
    } else if (f[0] == "lrem" && f[1] == "ack" && f.size() >= 4) {
      finished[f[2]] = IntOr(f[3], -1);
    } else if (f[0] == "lrem" && f[1] == "unc" && f.size() >= 3) {
      finish_uncertain.insert(f[2]);
    }
  }
  auto queued = Ask({"LRANGE", kJobsKey, "0", "-1"}, &report);
  auto processing = Ask({"LRANGE", kProcessingKey, "0", "-1"}, &report);
  if (!queued || !processing) return report;
  auto number = [](const std::string& job) { return IntOr(job.substr(job.find(':') + 1), -1); };
  std::map<std::string, int> in_queue, in_processing;
  for (const auto& j : queued->children()) ++in_queue[j.str()];
  for (const auto& j : processing->children()) ++in_processing[j.str()];
  // LPUSH at the head, LMOVE from the tail: the queue holds jobs newest first.
  for (size_t i = 1; i < queued->size(); ++i) {
    if (number((*queued)[i].str()) >= number((*queued)[i - 1].str())) {
      report.problems.push_back(std::string(kJobsKey) + " is out of order at index " +
                                std::to_string(i) + ": " + (*queued)[i - 1].str() + " before " +
                                (*queued)[i].str());
      break;
    }
  }
  std::set<std::string> taken_set;
  int64_t last_taken = -1;
  for (const auto& job : taken) {
    if (!taken_set.insert(job).second) {
      report.problems.push_back(job + ": taken by LMOVE twice");
    }
    if (number(job) <= last_taken) {
      report.problems.push_back(job + ": taken after job:" + std::to_string(last_taken) +
                                ", which was pushed later (not FIFO)");
    }
    last_taken = std::max(last_taken, number(job));
  }
  for (const auto& [job, removed] : finished) {
    if (removed != 1) {
      report.problems.push_back(job + ": LREM removed " + std::to_string(removed) +
                                " copies from " + kProcessingKey + " (expected 1)");
    }
  }
  std::set<std::string> everywhere = taken_set;
  for (const auto& [job, n] : in_queue) everywhere.insert(job);
  for (const auto& [job, n] : in_processing) everywhere.insert(job);
  size_t queued_count = 0, processing_count = 0, unknown_takes = 0, lost = 0;
  for (const auto& job : everywhere) {
    int q = in_queue.count(job) ? in_queue[job] : 0;
    int p = in_processing.count(job) ? in_processing[job] : 0;
    bool was_taken = taken_set.count(job) > 0;
    if (!pushed_acked.count(job) && !pushed_uncertain.count(job)) {
      report.problems.push_back(job + ": found but never pushed");
      continue;
    }
    if (q + p > 1) {
      report.problems.push_back(job + ": appears " + std::to_string(q + p) + " times (" +
                                std::to_string(q) + " in " + kJobsKey + ", " + std::to_string(p) +
                                " in " + kProcessingKey + ")");
      continue;
    }
    queued_count += q;
    processing_count += p;
    if (was_taken) {
      bool done = finished.count(job) > 0;
      if (q == 1) {
        report.problems.push_back(job + ": taken by LMOVE but back in " + kJobsKey);
      } else if (p == 1 && done) {
        report.problems.push_back(job + ": finished (LREM acknowledged) but still in " +
                                  std::string(kProcessingKey));
      } else if (p == 0 && !done && !finish_uncertain.count(job)) {
        report.problems.push_back(job + ": taken and not finished, but missing from " +
                                  std::string(kProcessingKey) + " (lost)");
      }
    } else if (p == 1) {
      ++unknown_takes;  // moved by an LMOVE whose answer was lost
    }
  }
  for (const auto& job : pushed_acked) {
    if (!everywhere.count(job)) {
      report.problems.push_back(job + ": pushed (acknowledged), never taken, and in neither " +
                                std::string(kJobsKey) + " nor " + kProcessingKey + " (lost)");
      ++lost;
    }
  }
  if (unknown_takes > take_uncertain) {
    report.problems.push_back(std::to_string(unknown_takes) + " jobs are in " + kProcessingKey +
                              " that no known LMOVE took, but only " +
                              std::to_string(take_uncertain) + " LMOVEs were uncertain");
  }
  report.numbers = std::to_string(pushed_acked.size()) + " pushed (" +
                   std::to_string(pushed_uncertain.size()) + " uncertain), " +
                   std::to_string(taken.size()) + " taken (" + std::to_string(take_uncertain) +
                   " uncertain), " + std::to_string(finished.size()) + " finished, " +
                   std::to_string(queued_count) + " queued, " + std::to_string(processing_count) +
                   " in processing";
  return report;
}

CheckReport Checker::Stream(const std::vector<Fields>& lines) {
  CheckReport report{"stream", "", {}};
  std::vector<std::pair<std::string, std::string>> added;  // acknowledged XADD: id, n
  std::multiset<std::string> added_uncertain;              // n of uncertain XADDs
  std::vector<std::pair<std::string, std::string>> delivered;
  size_t read_uncertain = 0;
  std::set<std::string> acked_ids, ack_uncertain_ids;
  for (const auto& f : lines) {
    if (f[0] == "xadd" && f.size() >= 4 && f[1] == "ack") {
      added.emplace_back(f[2], f[3]);
    } else if (f[0] == "xadd" && f.size() >= 3 && f[1] == "unc") {
      added_uncertain.insert(f[2]);
    } else if (f[0] == "deliver" && f.size() >= 3) {
      delivered.emplace_back(f[1], f[2]);
    } else if (f[0] == "xreadgroup" && f.size() >= 2 && f[1] == "unc") {
      ++read_uncertain;
    } else if (f[0] == "xack" && f.size() >= 3 && f[1] == "ack") {
      if (IntOr(f[2], -1) != static_cast<int64_t>(f.size() - 3)) {
        report.problems.push_back("an XACK of " + Plural(f.size() - 3, "id") + " (first " +
                                  (f.size() > 3 ? f[3] : "") + ") acknowledged " + f[2] +
                                  ": some delivered entries were not pending");
      }
      for (size_t i = 3; i < f.size(); ++i) acked_ids.insert(f[i]);
    } else if (f[0] == "xack" && f[1] == "unc") {
      for (size_t i = 2; i < f.size(); ++i) ack_uncertain_ids.insert(f[i]);
    }
  }
  // The stream, in pages.
  std::map<StreamId, std::pair<std::string, std::string>> entries;  // id -> (text id, n)
  std::string start = "-";
  for (;;) {
    auto page = Ask({"XRANGE", kStreamKey, start, "+", "COUNT", "10000"}, &report);
    if (!page) return report;
    for (const auto& e : page->children()) {
      std::string n = e.size() == 2 && e[1].size() == 2 ? e[1][1].str() : "?";
      entries[ParseStreamId(e[0].str())] = {e[0].str(), n};
    }
    if (page->size() < 10000) break;
    start = "(" + (*page)[page->size() - 1][0].str();
  }
  const size_t add_uncertain_count = added_uncertain.size();
  // Every acknowledged entry, in the order the producer got their ids.
  StreamId previous{0, 0};
  std::set<StreamId> known;
  for (const auto& [id, n] : added) {
    StreamId sid = ParseStreamId(id);
    if (sid <= previous) report.problems.push_back("XADD returned " + id + " after a larger id");
    previous = sid;
    known.insert(sid);
    auto it = entries.find(sid);
    if (it == entries.end()) {
      report.problems.push_back("entry " + id + " (n=" + n + ") acknowledged by XADD is missing");
    } else if (it->second.second != n) {
      report.problems.push_back("entry " + id + " holds n=" + it->second.second + ", XADD wrote " +
                                n);
    }
  }
  for (const auto& [sid, e] : entries) {
    if (known.count(sid)) continue;
    auto u = added_uncertain.find(e.second);
    if (u == added_uncertain.end()) {
      report.problems.push_back("entry " + e.first + " (n=" + e.second +
                                ") was never added, or added twice");
    } else {
      added_uncertain.erase(u);
    }
  }
  // Deliveries: once each, of entries that exist.
  std::set<StreamId> delivered_set;
  StreamId max_delivered{0, 0};
  for (const auto& [id, n] : delivered) {
    StreamId sid = ParseStreamId(id);
    if (!delivered_set.insert(sid).second) report.problems.push_back(id + ": delivered twice");
    max_delivered = std::max(max_delivered, sid);
    auto it = entries.find(sid);
    if (it == entries.end() || it->second.second != n) {
      report.problems.push_back(id + ": delivered (n=" + n + ") but not in the stream as such");
    }
  }
  // The pending list.
  auto pel = Ask({"XPENDING", kStreamKey, kGroupName, "-", "+", "100000000"}, &report);
  if (!pel) return report;
  std::set<StreamId> pending;
  size_t unknown_deliveries = 0;
  for (const auto& p : pel->children()) {
    if (p.size() != 4) continue;
    const std::string& id = p[0].str();
    StreamId sid = ParseStreamId(id);
    pending.insert(sid);
    if (p[1].str() != kConsumerName || p[3].integer() != 1) {
      report.problems.push_back("pending " + id + ": consumer " + p[1].str() + ", delivered " +
                                std::to_string(p[3].integer()) + " times (expected " +
                                kConsumerName + ", once)");
    }
    if (acked_ids.count(id)) {
      report.problems.push_back("pending " + id + ": acknowledged by XACK but still pending");
    } else if (!delivered_set.count(sid)) {
      if (!entries.count(sid)) {
        report.problems.push_back("pending " + id + ": not an entry of the stream");
      }
      ++unknown_deliveries;
    }
  }
  size_t expected_pending = 0;
  for (const auto& [id, n] : delivered) {
    if (acked_ids.count(id) || ack_uncertain_ids.count(id)) continue;
    ++expected_pending;
    if (!pending.count(ParseStreamId(id))) {
      report.problems.push_back(id + ": delivered and never acknowledged, but not pending");
    }
  }
  if (unknown_deliveries > 10 * read_uncertain) {
    report.problems.push_back(std::to_string(unknown_deliveries) +
                              " pending entries were never delivered to the workload, but only " +
                              std::to_string(read_uncertain) + " XREADGROUPs were uncertain");
  }
  // The group's counters.
  auto groups = Ask({"XINFO", "GROUPS", kStreamKey}, &report);
  if (!groups) return report;
  if (groups->size() != 1) {
    report.problems.push_back(std::string(kStreamKey) + " has " + std::to_string(groups->size()) +
                              " consumer groups (expected 1: " + kGroupName + ")");
    return report;
  }
  std::map<std::string, resp::Reply> info;
  const resp::Reply& g = (*groups)[0];
  for (size_t i = 0; i + 1 < g.size(); i += 2) info[g[i].str()] = g[i + 1];
  std::string last_text = info["last-delivered-id"].str();
  StreamId last = ParseStreamId(last_text);
  int64_t read_upto = 0, after = 0;
  for (const auto& [sid, e] : entries) {
    if (sid <= last) {
      ++read_upto;
      // Every entry up to the group's last id was delivered, by a known read or a lost one.
      if (!delivered_set.count(sid) && !pending.count(sid)) {
        report.problems.push_back("entry " + e.first + " lies before last-delivered-id " +
                                  last_text + " but was neither delivered nor is pending");
      }
    } else {
      ++after;
    }
  }
  if (read_uncertain == 0 ? last != max_delivered : last < max_delivered) {
    char max_text[48];
    std::snprintf(max_text, sizeof max_text, "%llu-%llu",
                  static_cast<unsigned long long>(max_delivered.first),
                  static_cast<unsigned long long>(max_delivered.second));
    report.problems.push_back("group " + std::string(kGroupName) + ": last-delivered-id " +
                              last_text + ", but the last entry delivered was " + max_text);
  }
  auto expect_int = [&](const std::string& field, int64_t want) {
    const resp::Reply& v = info[field];
    if (v.type() != resp::ReplyType::kInteger || v.integer() != want) {
      report.problems.push_back("group " + std::string(kGroupName) + ": " + field + " is " +
                                Show(v) + ", expected " + std::to_string(want));
    }
  };
  expect_int("consumers", 1);
  expect_int("pending", static_cast<int64_t>(pending.size()));
  expect_int("entries-read", read_upto);
  expect_int("lag", after);
  report.numbers =
      Plural(entries.size(), "entry", "entries") + " (" + std::to_string(added.size()) +
      " acknowledged XADDs, " + std::to_string(add_uncertain_count) + " uncertain), " +
      std::to_string(delivered.size()) + " delivered, " + std::to_string(pending.size()) +
      " pending (" + std::to_string(expected_pending) + " expected), last-delivered-id " +
      last_text + ", entries-read " + Show(info["entries-read"]) + ", lag " + Show(info["lag"]);
  return report;
}

CheckReport Checker::Keys(const std::map<std::string, std::vector<Fields>>& records) {
  CheckReport report{"keys", "", {}};
  std::map<std::string, std::string> expected_type = {
      {kLeaderboardKey, "zset"}, {kJobsKey, "list"},    {kProcessingKey, "list"},
      {kStreamKey, "stream"},    {kAccountA, "string"}, {kAccountB, "string"},
      {kHashKey, "hash"}};
  for (const auto& f : records.at("sessions")) {
    if (f.size() >= 3) expected_type[f[2]] = "string";
  }
  for (const auto& f : records.at("counters")) {
    if (f.size() >= 3) expected_type[f[2]] = "string";
  }
  size_t found = 0;
  std::string cursor = "0";
  do {
    auto page = Ask({"SCAN", cursor, "MATCH", "app:*", "COUNT", "1000"}, &report);
    if (!page || page->size() != 2) return report;
    cursor = (*page)[0].str();
    for (const auto& k : (*page)[1].children()) {
      ++found;
      auto it = expected_type.find(k.str());
      if (it == expected_type.end()) {
        report.problems.push_back(k.str() + ": the workload never wrote this key");
        continue;
      }
      auto type = Ask({"TYPE", k.str()}, &report);
      if (type && type->str() != it->second && type->str() != "none") {
        report.problems.push_back(k.str() + ": a " + type->str() + ", expected a " + it->second);
      }
    }
  } while (cursor != "0");
  report.numbers = Plural(found, "app:* key") + " found";
  return report;
}

}  // namespace

int Check(const CheckOptions& options) {
  std::map<std::string, std::vector<Fields>> records;
  for (const auto& name : ThreadNames()) {
    std::string error;
    if (!ReadRecord(options.record_dir, name, &records[name], &error)) {
      std::fprintf(stderr, "kf_app_workload check: %s\n", error.c_str());
      return 2;
    }
  }
  std::string named = ReadEndpointFile(options.endpoint_file);
  auto uri = net::Uri::Parse(named);
  if (!uri) {
    std::fprintf(stderr, "kf_app_workload check: the endpoint file %s holds no usable URI (%s)\n",
                 options.endpoint_file.c_str(), uri.error().ToString().c_str());
    return 2;
  }
  net::Client client;
  if (auto c = client.Connect(*uri); !c) {
    std::fprintf(stderr, "kf_app_workload check: %s\n", c.error().ToString().c_str());
    return 2;
  }
  std::printf("checking %s against the records in %s\n", uri->ToString().c_str(),
              options.record_dir.c_str());
  Checker checker(&client, options);
  std::vector<CheckReport> reports = {checker.Sessions(records["sessions"]),
                                      checker.Counters(records["counters"]),
                                      checker.Leaderboard(records["leaderboard"]),
                                      checker.Jobs(records["jobs"]),
                                      checker.Stream(records["stream"]),
                                      checker.Transfers(records["transfers"]),
                                      checker.Lua(records["lua"]),
                                      checker.Keys(records)};
  size_t failed = 0;
  for (const auto& r : reports) {
    std::printf("check %s: %s (%s)\n", r.name.c_str(), r.problems.empty() ? "ok" : "FAIL",
                r.numbers.c_str());
    for (size_t i = 0; i < r.problems.size() && i < 20; ++i) {
      std::printf("  %s\n", r.problems[i].c_str());
    }
    if (r.problems.size() > 20) std::printf("  ... and %zu more\n", r.problems.size() - 20);
    if (!r.problems.empty()) ++failed;
  }
  size_t refused = 0;
  for (const auto& [name, lines] : records) {
    for (const auto& f : lines) refused += f.size() >= 2 && f[1] == "err";
  }
  std::printf("app_check passed=%zu failed=%zu refused_operations=%zu\n", reports.size() - failed,
              failed, refused);
  return failed == 0 ? 0 : 1;
}

}  // namespace kf::app
