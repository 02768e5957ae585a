// SurveyRdbFile: reads an RDB backup once, parse only, and says what it holds — the
// checks `keyferry doctor` and `plan` run on a spec whose source is a file
// (source.rdb_file, docs/restore.md "A file as the source of apply").
//
// Nothing is written anywhere. Values are skipped (AccessLevel::kSkip), so the cost is the
// reader's framing and the CRC64 over every byte, not the decoding. The whole file is read:
// a truncated download or a corrupt byte is found before anything is provisioned.
//
// Contract:
//   - Success: the file is a complete RDB (RDB 9 to 12 and Valkey's), its end-of-file record
//     was reached and its checksum matched when it carries one (checksum_checked says which).
//   - Failure: the reader's error (rdb::RdbErrc) with the file's name and the byte offset, or
//     RdbFileErrc::kRead; memory stays one read buffer whatever the file's size.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/result.h"
#include "source/rdb_file_input.h"

namespace kf::source {

struct RdbFileSurvey {
  int rdb_version = 0;
  std::string saved_by;  // "Redis 7.2.4" / "Valkey 8.0.1" from the aux fields; "" if absent
  uint64_t bytes = 0;
  uint64_t keys = 0;
  std::map<uint64_t, uint64_t> keys_by_db;  // db -> keys
  uint64_t keys_with_expiry = 0;
  uint64_t field_ttl_hashes = 0;  // hashes saved with field TTLs (types 22-25 of Redis 7.4+)
  uint64_t functions = 0;         // function libraries
  bool checksum_checked = false;  // false: the file carries no checksum (0, or RDB < 5)
};

Result<RdbFileSurvey> SurveyRdbFile(RdbFileInput& input);
// The file at `path` opened and surveyed; a file that cannot be opened is RdbFileErrc::kOpen.
Result<RdbFileSurvey> SurveyRdbFile(const std::string& path);

}  // namespace kf::source
