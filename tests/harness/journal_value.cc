// JournalValue (journal_value.h).
#include "harness/journal_value.h"

#include "control/journal.h"

namespace kf::test {

std::string JournalValue(const std::string& state_dir, const std::string& key) {
  auto journal = control::Journal::Open(state_dir, false);
  if (!journal) return "";
  auto v = (*journal)->Get(key);
  return v && *v ? **v : "";
}

}  // namespace kf::test
