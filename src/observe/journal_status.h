// JournalStatus: where a migration stands, read from its journal in one pass — what
// `keyferry status` prints and what every observe server serves at /status for apply and
// status --listen (the same JSON as `keyferry status --json`).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/result.h"
#include "control/journal.h"

namespace kf::observe {

struct JournalStatus {
  std::string phase;  // empty: nothing recorded yet
  std::string phase_status;
  std::optional<int64_t> phase_started_ms;
  std::optional<int64_t> apply_started_ms;
  std::optional<int> apply_pid;  // set when an apply holds the lock
  std::string fingerprint;
  nlohmann::json progress;    // null when absent
  std::string progress_text;  // as the apply wrote it (its key order)
  std::optional<control::Event> last_event;
  bool cutover_started = false;  // the point of no return was passed (abort refuses)

  bool terminal() const;
};

// Reads the state and the last event (journal errors are returned as they are).
Result<JournalStatus> ReadJournalStatus(control::Journal& journal);

// The JSON of `keyferry status --json` for the migration `name` kept in `state_dir`.
nlohmann::json JournalStatusJson(const std::string& name, const std::string& state_dir,
                                 const JournalStatus& status);

// An event as JSON with its time also as UTC text ("time": "2024-05-01T10:00:00.123Z").
nlohmann::json EventJson(const control::Event& event);

// "2024-05-01T10:00:00.123Z" for a Unix time in ms.
std::string UtcTime(int64_t ms);

}  // namespace kf::observe
