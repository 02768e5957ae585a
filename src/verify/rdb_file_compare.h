// CompareRdbFileWithTarget: proves that a target holds what an RDB file holds — the check
// `keyferry restore` runs after loading a file (docs/restore.md, "Verification").
//
// The file is read again, in chunks, by the streaming RDB reader; its keys are gathered in
// batches (at most `batch` keys and about `batch_bytes` of values), and for each batch the
// target is asked DUMP and PEXPIRETIME for every key, pipelined (through verify::Endpoint,
// so a cluster target is read from the primary owning each key). Each target value is
// decoded and compared logically with the file's (value_compare.h), expiries exactly.
// Then the number of keys on the target is compared with the number the file put there,
// and the function libraries by name and code.
//
// The same --db-map / --match / --exclude as the restore decide which file keys are
// expected and in which db. A file key whose expiry is already past is expected absent.
// A key that expires while the comparison runs is no difference: one found missing (or
// gone between its DUMP and PEXPIRETIME) whose expiry has passed by then counts as expired
// in the file, and the final key count accepts any number between the keys expected minus
// those whose expiry passed before the count, and the keys expected (the target's keys
// are walked once with SCAN before the count, which deletes the ones already expired).
// A hash with field TTLs is expected without them (`drop_field_ttls`) or absent
// (`skip_field_ttl_hashes`), as the restore's --on-unsupported wrote it. A value bigger
// than `big_value_bytes` is compared by type and expiry only (counted, and the report says
// so). Memory: one batch of file values and its DUMP replies.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/uri.h"
#include "source/rdb_file_input.h"

namespace kf::verify {

struct RdbFileCompareOptions {
  std::vector<std::string> match;
  std::vector<std::string> exclude;
  std::vector<std::string> db_map;
  bool drop_field_ttls = false;
  bool skip_field_ttl_hashes = false;
  uint64_t big_value_bytes = uint64_t{64} << 20;
  size_t batch = 500;
  size_t batch_bytes = size_t{16} << 20;
  size_t max_reported = 10;
};

struct RdbFileCompareReport {
  uint64_t keys_compared = 0;  // file keys expected on the target and read there
  uint64_t keys_equal = 0;
  uint64_t expired_in_file = 0;  // expected absent: their expiry had passed
  uint64_t type_only = 0;        // values above big_value_bytes: type and expiry only
  uint64_t differences = 0;      // missing, other type, other value, other expiry
  uint64_t target_keys = 0;      // keys on the target (markers excluded)
  uint64_t expected_keys = 0;    // keys the file puts there (still live when compared)
  // Of expected_keys, how many had an expiry that passed between their comparison and the
  // count of target_keys: the target may hold them or have expired them already.
  uint64_t expired_before_count = 0;
  bool functions_equal = true;
  std::vector<std::string> examples;  // the first differences, one line each
  bool count_equal() const {
    return target_keys <= expected_keys && target_keys + expired_before_count >= expected_keys;
  }
  bool equal() const { return differences == 0 && functions_equal && count_equal(); }
};

Result<RdbFileCompareReport> CompareRdbFileWithTarget(source::RdbFileInput& input,
                                                      const net::Uri& target,
                                                      const RdbFileCompareOptions& options);

}  // namespace kf::verify
