// JournalValue: one state key of an apply's journal, read the way a test looks at it from
// outside (a separate read-only open of <state_dir>/journal.db per call).
#pragma once

#include <string>

namespace kf::test {

// The value of `key` in the journal under `state_dir`; "" when the journal or the key does
// not exist (yet) or cannot be read.
std::string JournalValue(const std::string& state_dir, const std::string& key);

}  // namespace kf::test
