// Human and JSON renderings of a VerifyReport.
#include "verify/report.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/bytes.h"

namespace kf::verify {
namespace {

std::string Where(const Difference& d) {
  if (d.is_function) return "function library " + Printable(d.key, 80);
  std::string db = d.source_db >= 0 ? "db" + std::to_string(d.source_db) : "(no source db)";
  if (d.target_db != d.source_db) db += "->db" + std::to_string(d.target_db);
  return db + " " + Printable(d.key, 80);
}

std::string Format(const char* fmt, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a);
  return buf;
}

}  // namespace

const char* DiffKindName(DiffKind kind) {
  switch (kind) {
    case DiffKind::kMissing:
      return "missing";
    case DiffKind::kExtra:
      return "extra";
    case DiffKind::kType:
      return "type";
    case DiffKind::kValue:
      return "value";
    case DiffKind::kTtl:
      return "ttl";
    case DiffKind::kFunction:
      return "function";
  }
  return "unknown";
}

const char* DiffKindTitle(DiffKind kind) {
  switch (kind) {
    case DiffKind::kMissing:
      return "missing on target";
    case DiffKind::kExtra:
      return "extra on target";
    case DiffKind::kType:
      return "type differs";
    case DiffKind::kValue:
      return "value differs";
    case DiffKind::kTtl:
      return "ttl differs";
    case DiffKind::kFunction:
      return "function library differs";
  }
  return "unknown";
}

std::string ReportToText(const VerifyReport& r) {
  std::string out;
  out += "keyferry verify: " + r.source + " -> " + r.target + " (mode " + r.mode + ")\n";
  if (r.equal) {
    out += "result: EQUAL\n";
  } else {
    out += "result: DIFFERENT: " + std::to_string(r.differing_keys) +
           " key(s) or function librar(ies) still differ";
    if (!r.rounds.empty()) out += " after round " + std::to_string(r.rounds.back().round);
    out += "\n";
  }
  std::string dbs;
  for (int db : r.source_dbs) dbs += (dbs.empty() ? "" : ",") + std::to_string(db);
  out += "databases: " + (dbs.empty() ? std::string("(none with keys)") : dbs) + "\n";
  out += "keys checked: " + std::to_string(r.source_keys_checked) + " on the source, " +
         std::to_string(r.target_keys_scanned) + " scanned on the target";
  if (r.big_keys_windowed > 0) {
    out += ", " + std::to_string(r.big_keys_windowed) + " big value(s) read in windows";
  }
  if (r.keys_vanished > 0) {
    out += ", " + std::to_string(r.keys_vanished) + " deleted or expired while read";
  }
  out += "\n";
  out += "time: " + Format("%.2f", r.elapsed_ms / 1000.0) + " s, " +
         Format("%.0f", r.keys_per_second) + " keys/s (first pass)\n";
  if (r.rounds.size() > 1) {
    out += "rounds:";
    for (const auto& round : r.rounds) {
      out += " #" + std::to_string(round.round) + " " + std::to_string(round.differing_keys) +
             " differing";
      if (&round != &r.rounds.back()) out += ",";
    }
    out += "\n";
  }
  if (!r.equal) {
    out += "differences by kind:\n";
    for (size_t k = 0; k < kDiffKindCount; ++k) {
      char line[96];
      std::snprintf(line, sizeof line, "  %-26s %llu\n", DiffKindTitle(static_cast<DiffKind>(k)),
                    static_cast<unsigned long long>(r.counts[k]));
      out += line;
    }
    if (!r.examples.empty()) {
      out += "first differences:\n";
      for (const auto& d : r.examples) {
        for (const auto& issue : d.issues) {
          out += "  [" + std::string(DiffKindName(issue.kind)) + "] " + Where(d);
          if (!issue.detail.empty()) out += ": " + issue.detail;
          out += " (rounds " + std::to_string(d.first_round) + "-" + std::to_string(d.last_round) +
                 ")\n";
        }
      }
    }
    if (r.untracked_keys > 0) {
      out += "  ... and " + std::to_string(r.untracked_keys) +
             " more key(s) beyond the tracking limit (counted, not re-checked)\n";
    }
  }
  for (const auto& note : r.notes) out += "note: " + note + "\n";
  return out;
}

std::string ReportToJson(const VerifyReport& r) {
  using nlohmann::json;
  json j;
  j["result"] = r.equal ? "equal" : "different";
  j["equal"] = r.equal;
  j["mode"] = r.mode;
  j["source"] = r.source;
  j["target"] = r.target;
  j["databases"] = r.source_dbs;
  json counts = json::object();
  for (size_t k = 0; k < kDiffKindCount; ++k) {
    counts[DiffKindName(static_cast<DiffKind>(k))] = r.counts[k];
  }
  j["counts"] = counts;
  j["differing_keys"] = r.differing_keys;
  j["untracked_keys"] = r.untracked_keys;
  json examples = json::array();
  for (const auto& d : r.examples) {
    json e;
    if (d.is_function) {
      e["library"] = Printable(d.key, 256);
    } else {
      e["db"] = d.source_db;
      e["target_db"] = d.target_db;
      e["key"] = Printable(d.key, 256);
      e["key_hex"] = HexEncode(AsBytes(d.key));
    }
    e["first_round"] = d.first_round;
    e["last_round"] = d.last_round;
    json issues = json::array();
    for (const auto& issue : d.issues) {
      // Details are printable ASCII (binary is escaped), so they are valid JSON strings.
      issues.push_back({{"kind", DiffKindName(issue.kind)}, {"detail", issue.detail}});
    }
    e["issues"] = issues;
    examples.push_back(e);
  }
  j["examples"] = examples;
  json rounds = json::array();
  for (const auto& round : r.rounds) {
    rounds.push_back({{"round", round.round},
                      {"keys_checked", round.keys_checked},
                      {"differing_keys", round.differing_keys},
                      {"elapsed_ms", round.elapsed_ms}});
  }
  j["rounds"] = rounds;
  j["source_keys_checked"] = r.source_keys_checked;
  j["target_keys_scanned"] = r.target_keys_scanned;
  j["keys_vanished"] = r.keys_vanished;
  j["big_keys_windowed"] = r.big_keys_windowed;
  j["elapsed_ms"] = r.elapsed_ms;
  j["keys_per_second"] = r.keys_per_second;
  j["notes"] = r.notes;
  return j.dump();
}

}  // namespace kf::verify
