// The logical (DATA-level) model of a Redis value, independent of how an RDB file or a
// DUMP payload encodes it.
//
// The RDB reader produces it (for values small enough to hold whole; huge values are
// delivered element by element instead) and the encoder serializes it into a DUMP payload
// for a chosen RDB version. Strings are binary-safe byte strings held in std::string.
// Element order is the server's order: list head to tail, zset by (score, member), hash
// and set in encounter order (the canonical printer sorts where the canonical form says so).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kf::rdb {

enum class ValueType : uint8_t { kString, kList, kSet, kZset, kHash, kStream, kModule };

// "string", "list", ... as in the canonical JSON form and TYPE replies.
const char* ValueTypeName(ValueType type);

struct ZsetEntry {
  std::string member;
  double score = 0;
  friend bool operator==(const ZsetEntry&, const ZsetEntry&) = default;
};

struct HashField {
  std::string field;
  std::string value;
  int64_t expire_ms = -1;  // absolute Unix ms of this field's own TTL (Redis 7.4+), -1 = none
  friend bool operator==(const HashField&, const HashField&) = default;
};

struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;
  friend auto operator<=>(const StreamId&, const StreamId&) = default;
  std::string ToString() const { return std::to_string(ms) + "-" + std::to_string(seq); }
};

struct StreamEntry {
  StreamId id;
  std::vector<std::pair<std::string, std::string>> fields;  // field, value in entry order
  friend bool operator==(const StreamEntry&, const StreamEntry&) = default;
};

struct StreamPendingEntry {
  StreamId id;
  std::string consumer;
  uint64_t delivery_count = 0;
  int64_t delivery_time_ms = 0;
  friend bool operator==(const StreamPendingEntry&, const StreamPendingEntry&) = default;
};

struct StreamConsumer {
  std::string name;
  int64_t seen_time_ms = 0;
  int64_t active_time_ms = -1;  // RDB 11+ (STREAM_LISTPACKS_3); -1 when the file lacks it
  friend bool operator==(const StreamConsumer&, const StreamConsumer&) = default;
};

struct StreamGroup {
  std::string name;
  StreamId last_delivered_id;
  int64_t entries_read = -1;            // RDB 10+; -1 = not recorded ("invalid" lag)
  std::vector<StreamPendingEntry> pel;  // ordered by id; each names its consumer
  std::vector<StreamConsumer> consumers;
  friend bool operator==(const StreamGroup&, const StreamGroup&) = default;
};

struct StreamValue {
  std::vector<StreamEntry> entries;  // live (not deleted) entries, by id
  uint64_t length = 0;               // number of live entries
  StreamId last_id;
  StreamId first_id;        // RDB 10+ (0-0 when absent)
  StreamId max_deleted_id;  // RDB 10+
  uint64_t entries_added = 0;
  bool has_v2_metadata = false;  // first_id / max_deleted_id / entries_added were in the file
  std::vector<StreamGroup> groups;
  friend bool operator==(const StreamValue&, const StreamValue&) = default;
};

// A whole value. Only the member matching `type` is meaningful.
struct Value {
  ValueType type = ValueType::kString;
  std::string str;                    // kString
  std::vector<std::string> elements;  // kList (in order), kSet (any order)
  std::vector<ZsetEntry> zset;        // kZset
  std::vector<HashField> hash;        // kHash
  StreamValue stream;                 // kStream
  friend bool operator==(const Value&, const Value&) = default;
};

}  // namespace kf::rdb
