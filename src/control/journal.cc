// The SQLite journal and the apply lock: see journal.h.
#include "control/journal.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "common/clock.h"
#include "control/control_errc.h"

namespace kf::control {
namespace {

namespace fs = std::filesystem;

// PRAGMA application_id of a keyferry journal ("KFJ1"), and the schema version it holds.
constexpr int32_t kApplicationId = 0x4b464a31;
constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kSchema = R"sql(
CREATE TABLE state (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  phase TEXT NOT NULL,
  kind TEXT NOT NULL,
  message TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE TRIGGER events_never_deleted BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'journal events are never deleted'); END;
CREATE TRIGGER events_never_changed BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'journal events are never changed'); END;
)sql";

struct KindEntry {
  EventKind kind;
  std::string_view name;
};

constexpr KindEntry kKindNames[] = {
    {EventKind::kStart, "start"}, {EventKind::kFinish, "finish"},
    {EventKind::kFail, "fail"},   {EventKind::kInfo, "info"},
    {EventKind::kWarn, "warn"},   {EventKind::kRollback, "rollback"},
};

// One prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : rc_(sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr)) {}
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool prepared() const { return rc_ == SQLITE_OK; }
  void Bind(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void Bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  int Step() { return sqlite3_step(stmt_); }
  int64_t Int(int column) { return sqlite3_column_int64(stmt_, column); }
  std::string Text(int column) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    int n = sqlite3_column_bytes(stmt_, column);
    return p == nullptr ? std::string() : std::string(p, static_cast<size_t>(n));
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

std::optional<int> ReadPid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return std::nullopt;
  int pid = 0;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) {
    if (pid > 100000000) return std::nullopt;
    pid = pid * 10 + (buf[i] - '0');
  }
  if (pid <= 0) return std::nullopt;
  return pid;
}

}  // namespace

std::string_view EventKindName(EventKind kind) {
  for (const auto& e : kKindNames) {
    if (e.kind == kind) return e.name;
  }
  return "info";
}

std::optional<EventKind> ParseEventKind(std::string_view name) {
  for (const auto& e : kKindNames) {
    if (e.name == name) return e.kind;
  }
  return std::nullopt;
}

nlohmann::json Event::ToJson() const {
  nlohmann::json data = nlohmann::json::parse(data_json.empty() ? "{}" : data_json, nullptr,
                                              /*allow_exceptions=*/false);
  if (data.is_discarded()) data = data_json;
  return {{"id", id},
          {"time_ms", time_ms},
          {"phase", PhaseName(phase)},
          {"kind", EventKindName(kind)},
          {"message", message},
          {"data", std::move(data)}};
}

std::string Journal::DbPath(const std::string& state_dir) {
  return (fs::path(state_dir) / "journal.db").string();
}

std::string Journal::LockPath(const std::string& state_dir) {
  return (fs::path(state_dir) / "apply.lock").string();
}

bool Journal::Exists(const std::string& state_dir) {
  std::error_code ec;
  return fs::is_regular_file(DbPath(state_dir), ec);
}

std::optional<int> Journal::ApplyLockHolder(const std::string& state_dir) {
  int fd = ::open(LockPath(state_dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<int> holder;
  // A shared lock succeeds only while nobody holds the exclusive one; it is dropped at once.
  // (AcquireApplyLock retries briefly, so this peek never makes an apply refuse to start.)
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd, LOCK_UN);
  } else if (errno == EWOULDBLOCK) {
    holder = ReadPid(fd).value_or(0);
  }
  ::close(fd);
  return holder;
}

Journal::Journal(std::string state_dir, sqlite3* db, bool read_only)
    : state_dir_(std::move(state_dir)),
      db_path_(DbPath(state_dir_)),
      db_(db),
      read_only_(read_only) {}

Journal::~Journal() {
  ReleaseApplyLock();
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<Journal>> Journal::Open(const std::string& state_dir, bool create) {
  return Open(state_dir, create ? Mode::kCreate : Mode::kReadOnly);
}

Result<std::unique_ptr<Journal>> Journal::Open(const std::string& state_dir, Mode mode) {
  std::string path = DbPath(state_dir);
  if (mode != Mode::kCreate && !Exists(state_dir)) {
    return MakeError(ControlErrc::kJournalMissing,
                     "no journal in " + state_dir + " (" + path +
                         " does not exist): no migration has run with this state dir");
  }
  if (mode == Mode::kCreate) {
    std::error_code ec;
    fs::create_directories(state_dir, ec);
    if (ec) {
      return MakeError(ControlErrc::kJournalIo, "cannot create the state dir " + state_dir + ": " +
                                                    ec.message() +
                                                    "; check the path and its permissions");
    }
  }
  int flags = SQLITE_OPEN_FULLMUTEX;
  if (mode == Mode::kReadOnly) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE | (mode == Mode::kCreate ? SQLITE_OPEN_CREATE : 0);
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return MakeError(ControlErrc::kJournalIo, "cannot open the journal " + path + ": " + why +
                                                  "; check the state dir's permissions and disk");
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  std::unique_ptr<Journal> journal(new Journal(state_dir, db, mode == Mode::kReadOnly));

  if (!journal->read_only_) {
    // WAL is a property of the file (kept once set); synchronous is per connection.
    Statement wal(db, "PRAGMA journal_mode=WAL");
    if (!wal.prepared() || wal.Step() != SQLITE_ROW || wal.Text(0) != "wal") {
      return journal->SqlError("switching the journal to WAL mode");
    }
    KF_RETURN_IF_ERROR(journal->Exec("PRAGMA synchronous=FULL", "setting synchronous=FULL"));
  }

  auto check = [&]() -> Result<void> {
    Statement app(db, "PRAGMA application_id");
    Statement version(db, "PRAGMA user_version");
    Statement tables(db, "SELECT count(*) FROM sqlite_master");
    if (!app.prepared() || app.Step() != SQLITE_ROW || !version.prepared() ||
        version.Step() != SQLITE_ROW || !tables.prepared() || tables.Step() != SQLITE_ROW) {
      return journal->SqlError("reading the journal's header");
    }
    int64_t app_id = app.Int(0), schema = version.Int(0), objects = tables.Int(0);
    if (app_id == 0 && schema == 0 && objects == 0) {
      if (journal->read_only_) {
        return MakeError(ControlErrc::kJournalMissing,
                         "the journal " + path +
                             " is empty: no migration has recorded anything "
                             "with this state dir yet");
      }
      KF_RETURN_IF_ERROR(journal->Exec(kSchema, "creating the journal's tables"));
      KF_RETURN_IF_ERROR(
          journal->Exec(("PRAGMA application_id=" + std::to_string(kApplicationId)).c_str(),
                        "marking the journal"));
      KF_RETURN_IF_ERROR(
          journal->Exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str(),
                        "marking the journal's version"));
      return {};
    }
    if (app_id != kApplicationId) {
      return MakeError(ControlErrc::kJournalCorrupt,
                       path +
                           " is an SQLite file but not a keyferry journal; move it away or "
                           "choose another state_dir");
    }
    if (schema > kSchemaVersion) {
      return MakeError(ControlErrc::kJournalCorrupt,
                       "the journal " + path + " was written by a newer keyferry (schema " +
                           std::to_string(schema) + ", this one reads " +
                           std::to_string(kSchemaVersion) + "); use that keyferry version");
    }
    return {};
  };
  if (journal->read_only_) {
    KF_RETURN_IF_ERROR(check());
  } else {
    KF_RETURN_IF_ERROR(journal->Transaction(check));
  }
  return journal;
}

Unexpected Journal::SqlError(std::string_view what) const {
  int code = sqlite3_extended_errcode(db_);
  std::string hint = "; check the state dir's disk space and permissions";
  if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) {
    hint = "; another process kept the journal busy for over " +
           std::to_string(kBusyTimeoutMs / 1000) + " s, try again";
  } else if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB) {
    return MakeError(ControlErrc::kJournalCorrupt,
                     "journal " + db_path_ + ": " + std::string(what) + ": " + sqlite3_errmsg(db_) +
                         "; the file is damaged: keep a copy for diagnosis");
  }
  return MakeError(ControlErrc::kJournalIo, "journal " + db_path_ + ": " + std::string(what) +
                                                ": " + sqlite3_errmsg(db_) + hint);
}

Result<void> Journal::Exec(const char* sql, std::string_view what) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return SqlError(what);
  return {};
}

Result<void> Journal::WritableCheck(std::string_view what) const {
  if (!read_only_) return {};
  return MakeError(ControlErrc::kJournalIo, "journal " + db_path_ + " is open read-only; " +
                                                std::string(what) + " needs Mode::kReadWrite");
}

Result<void> Journal::AcquireApplyLock() {
  std::lock_guard lock(mu_);
  KF_RETURN_IF_ERROR(WritableCheck("taking the apply lock"));
  if (lock_fd_ >= 0) return {};
  std::string path = LockPath(state_dir_);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return MakeError(ControlErrc::kJournalIo, "cannot open the apply lock " + path + ": " +
                                                  std::strerror(errno) +
                                                  "; check the state dir's permissions");
  }
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(500);
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) break;
    int err = errno;
    if (err == EINTR) continue;
    if (err != EWOULDBLOCK) {
      ::close(fd);
      return MakeError(ControlErrc::kJournalIo,
                       "cannot lock " + path + ": " + std::strerror(err) +
                           "; the state dir must be on a local file system");
    }
    if (SteadyClock::now() >= deadline) {
      std::optional<int> pid = ReadPid(fd);
      ::close(fd);
      return MakeError(
          ControlErrc::kLocked,
          "another keyferry apply (pid " + (pid ? std::to_string(*pid) : std::string("unknown")) +
              ") is running on " + state_dir_ + "; wait for it or stop it with keyferry abort");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    int err = errno;
    ::close(fd);
    return MakeError(ControlErrc::kJournalIo, "cannot write the pid into " + path + ": " +
                                                  std::strerror(err) +
                                                  "; check the state dir's disk space");
  }
  lock_fd_ = fd;
  return {};
}

void Journal::ReleaseApplyLock() {
  std::lock_guard lock(mu_);
  if (lock_fd_ < 0) return;
  // Clear the pid first so nobody reads a stale one; closing drops the lock.
  if (::ftruncate(lock_fd_, 0) != 0) {
    // Harmless: the next holder overwrites it, and an unlocked file's pid is never shown.
  }
  ::close(lock_fd_);
  lock_fd_ = -1;
}

Result<void> Journal::Set(std::string_view key, std::string_view value) {
  std::lock_guard lock(mu_);
  KF_RETURN_IF_ERROR(WritableCheck("Set"));
  Statement st(db_,
               "INSERT INTO state(key, value, updated_ms) VALUES(?1, ?2, ?3) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
               "updated_ms = excluded.updated_ms");
  if (!st.prepared()) return SqlError("preparing a state write");
  st.Bind(1, key);
  st.Bind(2, value);
  st.Bind(3, UnixMillis());
  if (st.Step() != SQLITE_DONE) return SqlError("writing state key \"" + std::string(key) + "\"");
  return {};
}

Result<void> Journal::Erase(std::string_view key) {
  std::lock_guard lock(mu_);
  KF_RETURN_IF_ERROR(WritableCheck("Erase"));
  Statement st(db_, "DELETE FROM state WHERE key = ?1");
  if (!st.prepared()) return SqlError("preparing a state erase");
  st.Bind(1, key);
  if (st.Step() != SQLITE_DONE) return SqlError("erasing state key \"" + std::string(key) + "\"");
  return {};
}

Result<std::optional<std::string>> Journal::Get(std::string_view key) {
  std::lock_guard lock(mu_);
  Statement st(db_, "SELECT value FROM state WHERE key = ?1");
  if (!st.prepared()) return SqlError("preparing a state read");
  st.Bind(1, key);
  int rc = st.Step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return SqlError("reading state key \"" + std::string(key) + "\"");
  return std::optional<std::string>(st.Text(0));
}

Result<std::map<std::string, std::string>> Journal::GetAll() {
  std::lock_guard lock(mu_);
  Statement st(db_, "SELECT key, value FROM state ORDER BY key");
  if (!st.prepared()) return SqlError("preparing a state read");
  std::map<std::string, std::string> out;
  for (;;) {
    int rc = st.Step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return SqlError("reading the state table");
    out[st.Text(0)] = st.Text(1);
  }
  return out;
}

Result<int64_t> Journal::AppendEvent(Event event) {
  std::lock_guard lock(mu_);
  KF_RETURN_IF_ERROR(WritableCheck("AppendEvent"));
  if (event.data_json.empty()) event.data_json = "{}";
  if (!nlohmann::json::accept(event.data_json)) {
    return MakeError(ControlErrc::kJournalCorrupt,
                     "event data for \"" + event.message +
                         "\" is not valid JSON; nothing was written (a keyferry bug: report it)");
  }
  if (event.time_ms == 0) event.time_ms = UnixMillis();
  Statement st(db_,
               "INSERT INTO events(time_ms, phase, kind, message, data) "
               "VALUES(?1, ?2, ?3, ?4, ?5)");
  if (!st.prepared()) return SqlError("preparing an event write");
  st.Bind(1, event.time_ms);
  st.Bind(2, PhaseName(event.phase));
  st.Bind(3, EventKindName(event.kind));
  st.Bind(4, event.message);
  st.Bind(5, event.data_json);
  // An event is a report, not state: it is committed without an fsync (synchronous=NORMAL:
  // it survives a SIGKILL of keyferry, the last ones may be lost with the machine's power).
  // Inside the write pause apply writes a dozen of them, and an fsync each would be most
  // of the pause. State (Set, Erase, Transaction) stays synchronous=FULL; the next FULL
  // commit also makes every earlier event durable, since the WAL is written in order.
  const bool own_commit = sqlite3_get_autocommit(db_) != 0;
  if (own_commit) KF_RETURN_IF_ERROR(Exec("PRAGMA synchronous=NORMAL", "relaxing synchronous"));
  const int step = st.Step();
  if (own_commit) KF_RETURN_IF_ERROR(Exec("PRAGMA synchronous=FULL", "setting synchronous=FULL"));
  if (step != SQLITE_DONE) return SqlError("appending an event");
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

namespace {

Result<Event> RowToEvent(Statement& st, const std::string& db_path) {
  Event e;
  e.id = st.Int(0);
  e.time_ms = st.Int(1);
  std::string phase = st.Text(2), kind = st.Text(3);
  auto p = ParsePhase(phase);
  auto k = ParseEventKind(kind);
  if (!p || !k) {
    return MakeError(ControlErrc::kJournalCorrupt,
                     "journal " + db_path + ": event " + std::to_string(e.id) +
                         " has an unknown phase or kind (\"" + phase + "\", \"" + kind +
                         "\"); was it written by a newer keyferry?");
  }
  e.phase = *p;
  e.kind = *k;
  e.message = st.Text(4);
  e.data_json = st.Text(5);
  return e;
}

}  // namespace

Result<std::vector<Event>> Journal::ListEvents(int64_t after_id, int limit) {
  std::lock_guard lock(mu_);
  limit = std::clamp(limit, 1, 100000);
  Statement st(db_,
               "SELECT id, time_ms, phase, kind, message, data FROM events WHERE id > ?1 "
               "ORDER BY id LIMIT ?2");
  if (!st.prepared()) return SqlError("preparing an event read");
  st.Bind(1, after_id);
  st.Bind(2, static_cast<int64_t>(limit));
  std::vector<Event> out;
  for (;;) {
    int rc = st.Step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return SqlError("reading events");
    auto e = RowToEvent(st, db_path_);
    if (!e) return MakeError(std::move(e).error());
    out.push_back(std::move(*e));
  }
  return out;
}

Result<std::optional<Event>> Journal::LastEvent() {
  std::lock_guard lock(mu_);
  Statement st(db_,
               "SELECT id, time_ms, phase, kind, message, data FROM events ORDER BY id DESC "
               "LIMIT 1");
  if (!st.prepared()) return SqlError("preparing an event read");
  int rc = st.Step();
  if (rc == SQLITE_DONE) return std::optional<Event>();
  if (rc != SQLITE_ROW) return SqlError("reading the last event");
  auto e = RowToEvent(st, db_path_);
  if (!e) return MakeError(std::move(e).error());
  return std::optional<Event>(std::move(*e));
}

Result<void> Journal::Transaction(const std::function<Result<void>()>& body) {
  std::lock_guard lock(mu_);
  KF_RETURN_IF_ERROR(WritableCheck("a transaction"));
  if (transaction_depth_ > 0) {
    ++transaction_depth_;
    Result<void> r;
    try {
      r = body();
    } catch (...) {
      --transaction_depth_;
      throw;
    }
    --transaction_depth_;
    return r;
  }
  // IMMEDIATE takes the write lock up front, so the body never fails half-way on a lock.
  KF_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", "starting a transaction"));
  transaction_depth_ = 1;
  Result<void> r;
  try {
    r = body();
  } catch (...) {
    transaction_depth_ = 0;
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  transaction_depth_ = 0;
  if (!r) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return r;
  }
  auto committed = Exec("COMMIT", "committing a transaction");
  if (!committed) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return committed;
  }
  return {};
}

}  // namespace kf::control
