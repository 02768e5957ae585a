// JournalStatus: the journal's state keys read into one view (see journal_status.h).
#include "observe/journal_status.h"

#include <cstdlib>
#include <ctime>

#include "control/migration.h"
#include "control/phase.h"

namespace kf::observe {
namespace {

std::optional<int64_t> ToInt(const std::optional<std::string>& text) {
  if (!text || text->empty()) return std::nullopt;
  char* end = nullptr;
  long long v = std::strtoll(text->c_str(), &end, 10);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return v;
}

}  // namespace

bool JournalStatus::terminal() const {
  auto p = control::ParsePhase(phase);
  return p && control::IsTerminal(*p);
}

std::string UtcTime(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

Result<JournalStatus> ReadJournalStatus(control::Journal& journal) {
  JournalStatus v;
  auto state = journal.GetAll();
  if (!state) return MakeError(std::move(state).error());
  auto get = [&](std::string_view key) -> std::optional<std::string> {
    auto it = state->find(std::string(key));
    if (it == state->end()) return std::nullopt;
    return it->second;
  };
  v.phase = get(control::kKeyPhase).value_or("");
  v.phase_status = get(control::kKeyPhaseStatus).value_or("");
  v.phase_started_ms = ToInt(get(control::kKeyPhaseStartedMs));
  v.apply_started_ms = ToInt(get(control::kKeyApplyStartedMs));
  v.fingerprint = get(control::kKeySpecFingerprint).value_or("");
  v.cutover_started =
      get(control::kKeyCutoverStarted).has_value() || get(control::kKeyCutoverDone).has_value();
  if (auto progress = get(control::kKeyProgress)) {
    v.progress_text = *progress;
    v.progress = nlohmann::json::parse(*progress, nullptr, /*allow_exceptions=*/false);
    if (v.progress.is_discarded()) v.progress = *progress;  // shown as text
  }
  auto last = journal.LastEvent();
  if (!last) return MakeError(std::move(last).error());
  v.last_event = std::move(*last);
  v.apply_pid = control::Journal::ApplyLockHolder(journal.state_dir());
  return v;
}

nlohmann::json EventJson(const control::Event& e) {
  nlohmann::json j = e.ToJson();
  j["time"] = UtcTime(e.time_ms);
  return j;
}

nlohmann::json JournalStatusJson(const std::string& name, const std::string& state_dir,
                                 const JournalStatus& v) {
  nlohmann::json j;
  j["name"] = name;
  j["state_dir"] = state_dir;
  j["phase"] = v.phase.empty() ? nlohmann::json() : nlohmann::json(v.phase);
  j["phase_status"] = v.phase_status.empty() ? nlohmann::json() : nlohmann::json(v.phase_status);
  j["phase_started_ms"] = v.phase_started_ms ? nlohmann::json(*v.phase_started_ms) : nullptr;
  j["apply_started_ms"] = v.apply_started_ms ? nlohmann::json(*v.apply_started_ms) : nullptr;
  j["apply_running"] = v.apply_pid.has_value();
  j["apply_pid"] = v.apply_pid && *v.apply_pid > 0 ? nlohmann::json(*v.apply_pid) : nullptr;
  j["terminal"] = v.terminal();
  j["cutover_started"] = v.cutover_started;
  j["spec_fingerprint"] = v.fingerprint.empty() ? nlohmann::json() : nlohmann::json(v.fingerprint);
  j["progress"] = v.progress;
  j["last_event"] = v.last_event ? EventJson(*v.last_event) : nlohmann::json();
  return j;
}

}  // namespace kf::observe
