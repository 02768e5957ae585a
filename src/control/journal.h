// Journal: the persistent record of one migration, in <state_dir>/journal.db (SQLite 3, WAL).
//
// It holds two things:
//  - state: a key/value table the apply state machine keeps its position in (phase, phase
//    status, spec fingerprint, replication checkpoint, provisioned pids/ports, pause start,
//    live progress...). Keys are free-form; the ones status/events and the dashboard read are
//    the kKey* constants below.
//  - events: an append-only log (start/finish/fail/info/warn/rollback per phase, with a time,
//    a message and a JSON blob of numbers). Ids increase; events are never deleted or changed
//    (the table refuses DELETE and UPDATE).
//
// Durability: state (Set, Erase, Transaction) is committed with synchronous=FULL in WAL
// mode, so a state write that returned is on disk even after a power loss or an OS crash,
// not only after SIGKILL of keyferry: NORMAL could lose the last "CUTOVER finished" across
// a power loss and make a resumed apply repeat a step that must not be repeated. Events
// (AppendEvent outside a Transaction) are reports: they are committed with
// synchronous=NORMAL, which survives a SIGKILL but may lose the last events with the
// power, because apply writes a dozen of them inside the write pause and an fsync each
// was most of the pause. The next FULL commit makes every earlier event durable too.
//
// Concurrency: one apply writes (guarded by the apply lock, below); status, events, doctor and
// the dashboard open the journal read-only from other processes at the same time. WAL lets
// readers see the last committed state without blocking the writer. A Journal object is safe
// to use from several threads (a mutex serialises its statements).
//
// The apply lock: AcquireApplyLock() takes flock(LOCK_EX) on <state_dir>/apply.lock and writes
// the holder's pid into it. The kernel releases it when the holder dies, however it dies. The
// descriptor is close-on-exec, so servers or hooks that apply starts do not inherit it (a
// child forked without exec does: do not fork-and-linger while holding it).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "control/phase.h"

struct sqlite3;

namespace kf::control {

// State keys read by status/events/dashboard (the apply writes them).
inline constexpr std::string_view kKeyPhase = "phase";                       // PhaseName()
inline constexpr std::string_view kKeyPhaseStatus = "phase_status";          // PhaseStatusName()
inline constexpr std::string_view kKeyPhaseStartedMs = "phase_started_ms";   // Unix ms
inline constexpr std::string_view kKeySpecName = "spec_name";                // Spec::name
inline constexpr std::string_view kKeySpecFingerprint = "spec_fingerprint";  // Spec::Fingerprint
inline constexpr std::string_view kKeySpecJson = "spec_json";                // Spec::ToJson dump
inline constexpr std::string_view kKeyApplyStartedMs = "apply_started_ms";   // Unix ms
// A JSON object of live numbers (keys, bytes, lag, pause_ms, ...); status prints its fields
// without interpreting them.
inline constexpr std::string_view kKeyProgress = "progress";

enum class EventKind { kStart, kFinish, kFail, kInfo, kWarn, kRollback };

std::string_view EventKindName(EventKind kind);  // "start", "finish", "fail", ...
std::optional<EventKind> ParseEventKind(std::string_view name);

struct Event {
  int64_t id = 0;       // set by AppendEvent: increasing, never reused
  int64_t time_ms = 0;  // Unix ms; AppendEvent sets the current time when 0
  Phase phase = Phase::kPreflight;
  EventKind kind = EventKind::kInfo;
  std::string message;           // a sentence for a person
  std::string data_json = "{}";  // a JSON value (usually an object of numbers); "" means {}

  // {"id", "time_ms", "phase", "kind", "message", "data"} with data embedded as JSON.
  nlohmann::json ToJson() const;
};

class Journal {
 public:
  enum class Mode {
    kReadOnly,   // an existing journal, no writes (status, events, doctor, dashboard)
    kReadWrite,  // an existing journal (abort, rollback)
    kCreate,     // create the state dir and the journal if missing (apply)
  };

  // create: Mode::kCreate, else Mode::kReadOnly.
  static Result<std::unique_ptr<Journal>> Open(const std::string& state_dir, bool create);
  // ControlErrc::kJournalMissing when the journal does not exist and mode is not kCreate;
  // kJournalIo when SQLite cannot open it; kJournalCorrupt when it is not a keyferry journal
  // or was written by a newer keyferry.
  static Result<std::unique_ptr<Journal>> Open(const std::string& state_dir, Mode mode);

  static std::string DbPath(const std::string& state_dir);    // <state_dir>/journal.db
  static std::string LockPath(const std::string& state_dir);  // <state_dir>/apply.lock
  static bool Exists(const std::string& state_dir);
  // The pid written by the process that holds the apply lock of state_dir, or nullopt when
  // nobody holds it (0 when it is held but no pid could be read). Does not take the lock.
  static std::optional<int> ApplyLockHolder(const std::string& state_dir);

  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Takes the apply lock (non-blocking; waits up to half a second only for a reader that is
  // briefly peeking with ApplyLockHolder). ControlErrc::kLocked, naming the holder's pid, when
  // another apply holds it. Idempotent for the holder. Not allowed on a read-only journal.
  Result<void> AcquireApplyLock();
  void ReleaseApplyLock();
  bool holds_apply_lock() const { return lock_fd_ >= 0; }

  // State. Set/Erase commit at once (or join the enclosing Transaction()).
  Result<void> Set(std::string_view key, std::string_view value);
  Result<void> Erase(std::string_view key);
  Result<std::optional<std::string>> Get(std::string_view key);
  Result<std::map<std::string, std::string>> GetAll();

  // Appends an event and returns its id. data_json must be valid JSON (kJournalCorrupt if
  // not: nothing is written).
  Result<int64_t> AppendEvent(Event event);
  // Events with id > after_id, oldest first, at most limit (1..100000) of them.
  Result<std::vector<Event>> ListEvents(int64_t after_id = 0, int limit = 1000);
  Result<std::optional<Event>> LastEvent();

  // Runs body in one transaction: the Set/Erase/AppendEvent it calls commit together, or not
  // at all when body returns an error (which is returned). Nested calls join the outer one.
  Result<void> Transaction(const std::function<Result<void>()>& body);

  const std::string& state_dir() const { return state_dir_; }
  bool read_only() const { return read_only_; }

 private:
  Journal(std::string state_dir, sqlite3* db, bool read_only);

  Result<void> Exec(const char* sql, std::string_view what);
  Unexpected SqlError(std::string_view what) const;
  Result<void> WritableCheck(std::string_view what) const;

  std::string state_dir_;
  std::string db_path_;
  sqlite3* db_ = nullptr;
  bool read_only_ = false;
  int lock_fd_ = -1;
  int transaction_depth_ = 0;
  mutable std::recursive_mutex mu_;
};

}  // namespace kf::control
