// Error codes of the control layer: the spec, the journal, the apply lock and the phases of a
// migration built on them (plan, apply, providers, cutover, doctor). One enum for the domain
// with its std::error_category; make_error_code is found by ADL.
#pragma once

#include <system_error>

namespace kf::control {

enum class ControlErrc {
  kSpecUnreadable = 1,  // the spec file cannot be read (missing, permissions)
  kSpecSyntax,          // the spec is not valid YAML
  kSpecInvalid,         // unknown keys, wrong types, bad values, impossible combinations
  kSpecUnsupported,     // a valid request keyferry cannot do yet (cluster topology, ...)
  kSpecChanged,         // the spec differs from the one a running migration started with
  kEnvMissing,          // the environment variable named by password_env is unset or empty
  kJournalMissing,      // no journal in the state dir: no migration has run there
  kJournalIo,           // SQLite failed to open, read or write the journal
  kJournalCorrupt,      // the journal holds something this version cannot read
  kLocked,              // another apply holds the state dir's lock
  kPreflightFailed,     // a check before anything changes failed
  kProvisionFailed,     // the target could not be started or is not usable
  kPhaseFailed,         // a migration phase failed (the message says which and why)
  kHookFailed,          // the cutover hook exited non-zero or timed out
  kVerifyMismatch,      // source and target differ after the verify rounds
  kRefused,             // refused on purpose (e.g. rollback after CUTOVER)
  kAborted,             // stopped by keyferry abort or a signal
  kDeclined,            // the operator answered "no" to apply's confirmation question
};

const std::error_category& ControlCategory();

inline std::error_code make_error_code(ControlErrc e) {
  return {static_cast<int>(e), ControlCategory()};
}

}  // namespace kf::control

template <>
struct std::is_error_code_enum<kf::control::ControlErrc> : std::true_type {};
