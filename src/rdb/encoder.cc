// DUMP-payload encoder (see encoder.h): chooses each value's encoding the way the server
// of the target RDB version would, serializes it with the *_writer codecs, and appends
// the version + CRC-64 footer. The encoding thresholds mirror the servers' defaults and
// growth rules (quicklist node fill, stream node splitting) so that a value built by
// appending elements comes out byte-identical to the server's own DUMP.
#include "rdb/encoder.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include "rdb/crc64.h"
#include "rdb/intset_writer.h"
#include "rdb/listpack_writer.h"
#include "rdb/rdb_writer.h"
#include "rdb/ziplist_writer.h"

namespace kf::rdb {

namespace {

constexpr size_t kFooterSize = kDumpFooterBytes;  // uint16 version + uint64 CRC-64
// Quicklist node byte limits for list-max-listpack-size -1 .. -5.
constexpr size_t kQuicklistLevels[] = {4096, 8192, 16384, 32768, 65536};
// SIZE_SAFETY_LIMIT: the byte cap of a node whose limit is an entry count.
constexpr size_t kQuicklistSafetyLimit = 8192;
// Redis 7.0 packs every element below 1 GiB into listpack nodes.
constexpr size_t kRedis70PackedThreshold = size_t{1} << 30;
// Redis 7.0+ overestimates the listpack growth of one push by this much.
constexpr size_t kQuicklistSizeEstimateOverhead = 8;
constexpr size_t kStreamListpackMaxSize = size_t{1} << 30;
constexpr uint64_t kQuicklistContainerPlain = 1;
constexpr uint64_t kQuicklistContainerPacked = 2;
constexpr int64_t kStreamFlagSameFields = 2;

std::string Describe(std::string_view s) { return "'" + Printable(s, 40) + "'"; }

// The footer at `at` (kFooterSize bytes) after a value whose CRC-64 is `value_crc`: the
// version little-endian, then the CRC-64 of the value and the version, little-endian.
void WriteFooter(uint64_t value_crc, int version, uint8_t* at) {
  at[0] = static_cast<uint8_t>(version & 0xFF);
  at[1] = static_cast<uint8_t>((version >> 8) & 0xFF);
  const uint64_t crc = Crc64(value_crc, ByteView(at, 2));
  for (int i = 0; i < 8; ++i) at[2 + i] = static_cast<uint8_t>(crc >> (8 * i));
}

void AppendFooter(Bytes& out, int version) {
  const size_t n = out.size();
  const uint64_t value_crc = Crc64(0, out);
  out.resize(n + kFooterSize);
  WriteFooter(value_crc, version, out.data() + n);
}

Result<void> CheckFooterVersion(int version) {
  if (version < 1 || version > 0xFFFF) {
    return MakeError(RdbErrc::kUnsupportedVersion, "RDB version " + std::to_string(version) +
                                                       " does not fit a DUMP footer (1..65535)");
  }
  return {};
}

// double2ll from the server: scores that are exact integers within +-2^62 are stored in
// listpacks as integers.
bool ScoreAsInteger(double d, int64_t* out) {
  constexpr double kLimit = static_cast<double>(std::numeric_limits<int64_t>::max() / 2);
  if (!(d >= -kLimit && d <= kLimit)) return false;  // also rejects NaN
  const auto ll = static_cast<int64_t>(d);
  if (static_cast<double>(ll) != d) return false;
  *out = ll;
  return true;
}

std::string FormatPercent17g(double v) {
  char buf[64];
  const int n = std::snprintf(buf, sizeof(buf), "%.17g", v);
  return std::string(buf, static_cast<size_t>(n));
}

// The shortest digits that round-trip, laid out like fpconv_dtoa (Redis 7.2+/Valkey):
// plain integers while the exponent stays below ndigits + 7, plain decimals for
// 1e-6 <= |v| < 1, otherwise d.ddde[+-]X with no zero padding of the exponent.
std::string FormatShortest(double v) {
  char buf[64];
  const auto res =
      std::to_chars(buf, buf + sizeof(buf), std::fabs(v), std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  int exp10 = 0;
  const std::string_view exp_text = sci.substr(e_pos + 1);
  std::from_chars(exp_text.data() + (exp_text[0] == '+' ? 1 : 0), exp_text.data() + exp_text.size(),
                  exp10);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const int ndigits = static_cast<int>(digits.size());
  const int k = exp10 - (ndigits - 1);  // value = digits * 10^k
  const int abs_exp = std::abs(k + ndigits - 1);
  std::string out = v < 0 ? "-" : "";
  if (k >= 0 && abs_exp < ndigits + 7) {
    out += digits;
    out.append(static_cast<size_t>(k), '0');
    return out;
  }
  if (k < 0 && (k > -7 || abs_exp < 4)) {
    const int offset = ndigits - (-k);
    if (offset <= 0) {
      out += "0.";
      out.append(static_cast<size_t>(-offset), '0');
      out += digits;
    } else {
      out += digits.substr(0, static_cast<size_t>(offset));
      out += '.';
      out += digits.substr(static_cast<size_t>(offset));
    }
    return out;
  }
  out += digits[0];
  if (ndigits > 1) {
    out += '.';
    out += digits.substr(1);
  }
  out += 'e';
  out += (k + ndigits - 1 < 0) ? '-' : '+';
  out += std::to_string(abs_exp);
  return out;
}

struct Target {
  int version;
  bool compact_sets() const { return version >= 11; }   // SET_LISTPACK
  bool listpacks() const { return version >= 10; }      // else ziplists
  bool plain_by_fill() const { return version >= 11; }  // plain nodes above the node size
};

Result<void> CheckNotEmpty(size_t n, const char* what) {
  if (n == 0) {
    return MakeError(RdbErrc::kInvalidValue,
                     std::string("cannot encode an empty ") + what +
                         ": servers never hold empty aggregates and RESTORE refuses them; "
                         "skip the key instead");
  }
  return {};
}

// ---- strings ----------------------------------------------------------------------

void EncodeString(const Value& v, RdbWriter& w) {
  w.WriteByte(kTypeString);
  w.WriteString(v.str);
}

// ---- lists --------------------------------------------------------------------------

size_t QuicklistByteLimit(int fill) {
  size_t level = static_cast<size_t>(-static_cast<int64_t>(fill)) - 1;
  level = std::min(level, std::size(kQuicklistLevels) - 1);
  return kQuicklistLevels[level];
}

// Redis 7.0+ _quicklistNodeAllowInsert (size part): may an element of `sz` bytes join a
// packed node of `node_bytes` bytes and `node_count` entries?
bool QuicklistAllowInsertV2(int fill, size_t node_bytes, size_t node_count, size_t sz) {
  const size_t new_sz = node_bytes + sz + kQuicklistSizeEstimateOverhead;
  if (fill < 0) return new_sz <= QuicklistByteLimit(fill);
  if (new_sz > kQuicklistSafetyLimit) return false;
  return node_count + 1 <= static_cast<size_t>(fill);
}

// Redis 6.2 _quicklistNodeAllowInsert: estimates the ziplist growth from the element size.
bool QuicklistAllowInsertZiplist(int fill, size_t node_bytes, size_t node_count, size_t sz) {
  size_t overhead = sz < 254 ? 1 : 5;
  overhead += sz < 64 ? 1 : (sz < 16384 ? 2 : 5);
  const size_t new_sz = node_bytes + sz + overhead;
  if (fill < 0) return new_sz <= QuicklistByteLimit(fill);
  if (new_sz > kQuicklistSafetyLimit) return false;
  return node_count < static_cast<size_t>(fill);
}

void EncodeListV2(const Value& v, const Target& t, const EncodeOptions& o, RdbWriter& w) {
  const int fill = o.list_max_listpack_size == 0 ? -2 : o.list_max_listpack_size;
  struct Node {
    uint64_t container;
    Bytes blob;
  };
  std::vector<Node> nodes;
  ListpackWriter cur;
  auto flush = [&] {
    if (!cur.empty()) nodes.push_back({kQuicklistContainerPacked, cur.Finish()});
  };
  for (const std::string& e : v.elements) {
    const size_t sz = e.size();
    bool large = false;
    if (t.plain_by_fill()) {
      large = fill < 0 ? sz > QuicklistByteLimit(fill) : sz > kQuicklistSafetyLimit;
    } else {
      large = sz >= kRedis70PackedThreshold;
    }
    if (large) {
      flush();
      nodes.push_back({kQuicklistContainerPlain, Bytes(e.begin(), e.end())});
      continue;
    }
    if (!cur.empty() && !QuicklistAllowInsertV2(fill, cur.BytesWithTerminator(), cur.count(), sz)) {
      flush();
    }
    cur.AppendString(e);
  }
  flush();
  w.WriteByte(kTypeListQuicklist2);
  w.WriteLength(nodes.size());
  for (const Node& n : nodes) {
    w.WriteLength(n.container);
    w.WriteString(n.blob);
  }
}

void EncodeListZiplist(const Value& v, const EncodeOptions& o, RdbWriter& w) {
  const int fill = o.list_max_listpack_size == 0 ? -2 : o.list_max_listpack_size;
  std::vector<Bytes> nodes;
  ZiplistWriter cur;
  for (const std::string& e : v.elements) {
    if (cur.count() > 0 &&
        !QuicklistAllowInsertZiplist(fill, cur.BytesWithTerminator(), cur.count(), e.size())) {
      nodes.push_back(cur.Finish());
    }
    cur.Append(e);
  }
  if (cur.count() > 0) nodes.push_back(cur.Finish());
  w.WriteByte(kTypeListQuicklist);
  w.WriteLength(nodes.size());
  for (const Bytes& n : nodes) w.WriteString(n);
}

// ---- sets ---------------------------------------------------------------------------

void EncodeSet(const Value& v, const Target& t, const EncodeOptions& o, RdbWriter& w) {
  const auto& members = v.elements;
  if (members.size() <= o.set_max_intset_entries) {
    std::vector<int64_t> ints;
    ints.reserve(members.size());
    bool all_ints = true;
    for (const std::string& m : members) {
      int64_t x = 0;
      if (!ParseCanonicalInt64(m, &x)) {
        all_ints = false;
        break;
      }
      ints.push_back(x);
    }
    if (all_ints) {
      w.WriteByte(kTypeSetIntset);
      w.WriteString(BuildIntset(std::move(ints)));
      return;
    }
  }
  if (t.compact_sets() && members.size() <= o.set_max_listpack_entries &&
      std::all_of(members.begin(), members.end(),
                  [&](const std::string& m) { return m.size() <= o.set_max_listpack_value; })) {
    ListpackWriter lp;
    for (const std::string& m : members) lp.AppendString(m);
    w.WriteByte(kTypeSetListpack);
    w.WriteString(lp.Finish());
    return;
  }
  w.WriteByte(kTypeSet);
  w.WriteLength(members.size());
  for (const std::string& m : members) w.WriteString(m);
}

// ---- zsets --------------------------------------------------------------------------

void EncodeZset(const Value& v, const Target& t, const EncodeOptions& o, RdbWriter& w) {
  std::vector<const ZsetEntry*> sorted;
  sorted.reserve(v.zset.size());
  for (const ZsetEntry& e : v.zset) sorted.push_back(&e);
  std::stable_sort(sorted.begin(), sorted.end(), [](const ZsetEntry* a, const ZsetEntry* b) {
    if (a->score != b->score) return a->score < b->score;
    return a->member < b->member;  // unsigned byte order, like sdscmp
  });
  const bool compact = sorted.size() <= o.zset_max_listpack_entries &&
                       std::all_of(sorted.begin(), sorted.end(), [&](const ZsetEntry* e) {
                         return e->member.size() <= o.zset_max_listpack_value;
                       });
  if (compact && t.listpacks()) {
    ListpackWriter lp;
    for (const ZsetEntry* e : sorted) {
      lp.AppendString(e->member);
      int64_t as_int = 0;
      if (e->score == 0 && std::signbit(e->score)) {
        lp.AppendString("-0");  // the server would store 0 here; keep the sign
      } else if (ScoreAsInteger(e->score, &as_int)) {
        lp.AppendInteger(as_int);
      } else {
        lp.AppendString(FormatScore(e->score, t.version));
      }
    }
    w.WriteByte(kTypeZsetListpack);
    w.WriteString(lp.Finish());
    return;
  }
  if (compact) {
    ZiplistWriter zl;
    for (const ZsetEntry* e : sorted) {
      zl.Append(e->member);
      zl.Append(FormatScore(e->score, t.version));
    }
    w.WriteByte(kTypeZsetZiplist);
    w.WriteString(zl.Finish());
    return;
  }
  // ZSET_2: the skiplist from the greatest element to the smallest (the server saves it in
  // that order so loading inserts each element at the head).
  w.WriteByte(kTypeZset2);
  w.WriteLength(sorted.size());
  for (auto it = sorted.rbegin(); it != sorted.rend(); ++it) {
    w.WriteString((*it)->member);
    w.WriteBinaryDouble((*it)->score);
  }
}

// ---- hashes -------------------------------------------------------------------------

void EncodeHash(const Value& v, const Target& t, const EncodeOptions& o, RdbWriter& w) {
  const auto& fields = v.hash;
  const bool compact = fields.size() <= o.hash_max_listpack_entries &&
                       std::all_of(fields.begin(), fields.end(), [&](const HashField& f) {
                         return f.field.size() <= o.hash_max_listpack_value &&
                                f.value.size() <= o.hash_max_listpack_value;
                       });
  if (compact && t.listpacks()) {
    ListpackWriter lp;
    for (const HashField& f : fields) {
      lp.AppendString(f.field);
      lp.AppendString(f.value);
    }
    w.WriteByte(kTypeHashListpack);
    w.WriteString(lp.Finish());
    return;
  }
  if (compact) {
    ZiplistWriter zl;
    for (const HashField& f : fields) {
      zl.Append(f.field);
      zl.Append(f.value);
    }
    w.WriteByte(kTypeHashZiplist);
    w.WriteString(zl.Finish());
    return;
  }
  w.WriteByte(kTypeHash);
  w.WriteLength(fields.size());
  for (const HashField& f : fields) {
    w.WriteString(f.field);
    w.WriteString(f.value);
  }
}

// ---- streams ------------------------------------------------------------------------

// One rax node of a stream: a listpack headed by a master entry whose fields are those of
// the node's first entry. Sizes are tracked as the server's lpBytes would report them,
// because node splitting depends on them.
class StreamNode {
 public:
  explicit StreamNode(const StreamEntry& first) : master_id_(first.id) {
    for (const auto& fv : first.fields) master_fields_.push_back(fv.first);
    body_bytes_ = ListpackIntegerEntrySize(0) +  // deleted count
                  ListpackIntegerEntrySize(static_cast<int64_t>(master_fields_.size()));
    for (std::string_view f : master_fields_) body_bytes_ += ListpackEntrySize(f);
    body_bytes_ += ListpackIntegerEntrySize(0);  // master entry terminator
  }

  // What lpBytes says for the node as it stands.
  size_t ListpackBytes() const {
    return ListpackWriter::kHeaderSize +
           ListpackIntegerEntrySize(static_cast<int64_t>(entries_.size())) + body_bytes_ + 1;
  }
  size_t count() const { return entries_.size(); }

  void Add(const StreamEntry& e) {
    const bool same = SameFields(e);
    body_bytes_ += ListpackIntegerEntrySize(same ? kStreamFlagSameFields : 0);
    body_bytes_ += ListpackIntegerEntrySize(MsDiff(e));
    body_bytes_ += ListpackIntegerEntrySize(SeqDiff(e));
    if (!same) body_bytes_ += ListpackIntegerEntrySize(static_cast<int64_t>(e.fields.size()));
    for (const auto& fv : e.fields) {
      if (!same) body_bytes_ += ListpackEntrySize(fv.first);
      body_bytes_ += ListpackEntrySize(fv.second);
    }
    body_bytes_ += ListpackIntegerEntrySize(LpCount(e, same));
    entries_.push_back(&e);
  }

  void Write(RdbWriter& w) const {
    Bytes key;
    AppendBigEndian64(key, master_id_.ms);
    AppendBigEndian64(key, master_id_.seq);
    ListpackWriter lp;
    lp.AppendInteger(static_cast<int64_t>(entries_.size()));
    lp.AppendInteger(0);
    lp.AppendInteger(static_cast<int64_t>(master_fields_.size()));
    for (std::string_view f : master_fields_) lp.AppendString(f);
    lp.AppendInteger(0);
    for (const StreamEntry* e : entries_) {
      const bool same = SameFields(*e);
      lp.AppendInteger(same ? kStreamFlagSameFields : 0);
      lp.AppendInteger(MsDiff(*e));
      lp.AppendInteger(SeqDiff(*e));
      if (!same) lp.AppendInteger(static_cast<int64_t>(e->fields.size()));
      for (const auto& fv : e->fields) {
        if (!same) lp.AppendString(fv.first);
        lp.AppendString(fv.second);
      }
      lp.AppendInteger(LpCount(*e, same));
    }
    w.WriteString(key);
    w.WriteString(lp.Finish());
  }

 private:
  bool SameFields(const StreamEntry& e) const {
    if (e.fields.size() != master_fields_.size()) return false;
    for (size_t i = 0; i < master_fields_.size(); ++i) {
      if (e.fields[i].first != master_fields_[i]) return false;
    }
    return true;
  }
  int64_t MsDiff(const StreamEntry& e) const {
    return static_cast<int64_t>(e.id.ms - master_id_.ms);
  }
  int64_t SeqDiff(const StreamEntry& e) const {
    return static_cast<int64_t>(e.id.seq - master_id_.seq);
  }
  // Listpack items of the entry after its flags: lets a reader walk entries backwards.
  static int64_t LpCount(const StreamEntry& e, bool same) {
    const auto n = static_cast<int64_t>(e.fields.size());
    return same ? n + 3 : n * 2 + 4;
  }

  StreamId master_id_;
  std::vector<std::string_view> master_fields_;
  std::vector<const StreamEntry*> entries_;
  size_t body_bytes_ = 0;
};

void WriteStreamIdLengths(RdbWriter& w, const StreamId& id) {
  w.WriteLength(id.ms);
  w.WriteLength(id.seq);
}

Result<void> EncodeStream(const Value& v, const Target& t, const EncodeOptions& o, RdbWriter& w) {
  const StreamValue& s = v.stream;
  for (size_t i = 1; i < s.entries.size(); ++i) {
    if (!(s.entries[i - 1].id < s.entries[i].id)) {
      return MakeError(RdbErrc::kInvalidValue,
                       "stream entries are not in increasing ID order at entry " +
                           s.entries[i].id.ToString() + "; the value is corrupt, re-read it");
    }
  }
  if (!s.entries.empty() && s.last_id < s.entries.back().id) {
    return MakeError(RdbErrc::kInvalidValue,
                     "stream last_id " + s.last_id.ToString() + " is below its last entry " +
                         s.entries.back().id.ToString() + "; the value is corrupt, re-read it");
  }

  // Split entries into nodes exactly as streamAppendItem does.
  size_t max_bytes = o.stream_node_max_bytes;
  if (max_bytes == 0 || max_bytes > kStreamListpackMaxSize) max_bytes = kStreamListpackMaxSize;
  std::vector<StreamNode> nodes;
  for (const StreamEntry& e : s.entries) {
    if (!nodes.empty()) {
      size_t totelelen = 0;
      for (const auto& fv : e.fields) totelelen += fv.first.size() + fv.second.size();
      const StreamNode& tail = nodes.back();
      if (tail.ListpackBytes() + totelelen >= max_bytes ||
          (o.stream_node_max_entries != 0 && tail.count() >= o.stream_node_max_entries)) {
        nodes.emplace_back(e);
      }
    } else {
      nodes.emplace_back(e);
    }
    nodes.back().Add(e);
  }

  const uint8_t type = t.version >= 11   ? kTypeStreamListpacks3
                       : t.version >= 10 ? kTypeStreamListpacks2
                                         : kTypeStreamListpacks;
  w.WriteByte(type);
  w.WriteLength(nodes.size());
  for (const StreamNode& n : nodes) n.Write(w);
  w.WriteLength(s.entries.size());
  WriteStreamIdLengths(w, s.last_id);
  if (t.version >= 10) {
    if (s.has_v2_metadata) {
      WriteStreamIdLengths(w, s.first_id);
      WriteStreamIdLengths(w, s.max_deleted_id);
      w.WriteLength(s.entries_added);
    } else {
      // What the server itself derives when it loads a pre-7.0 stream.
      WriteStreamIdLengths(w, s.entries.empty() ? StreamId{} : s.entries.front().id);
      WriteStreamIdLengths(w, StreamId{});
      w.WriteLength(s.entries.size());
    }
  }

  std::vector<const StreamGroup*> groups;
  for (const StreamGroup& g : s.groups) groups.push_back(&g);
  std::sort(groups.begin(), groups.end(),
            [](const StreamGroup* a, const StreamGroup* b) { return a->name < b->name; });
  w.WriteLength(groups.size());
  for (const StreamGroup* g : groups) {
    std::vector<const StreamPendingEntry*> pel;
    for (const StreamPendingEntry& p : g->pel) pel.push_back(&p);
    std::sort(pel.begin(), pel.end(), [](const StreamPendingEntry* a, const StreamPendingEntry* b) {
      return a->id < b->id;
    });
    std::vector<const StreamConsumer*> consumers;
    for (const StreamConsumer& c : g->consumers) consumers.push_back(&c);
    std::sort(consumers.begin(), consumers.end(),
              [](const StreamConsumer* a, const StreamConsumer* b) { return a->name < b->name; });
    for (const StreamPendingEntry* p : pel) {
      const bool known =
          std::any_of(consumers.begin(), consumers.end(),
                      [&](const StreamConsumer* c) { return c->name == p->consumer; });
      if (!known) {
        return MakeError(RdbErrc::kInvalidValue,
                         "stream group " + Describe(g->name) + " has pending entry " +
                             p->id.ToString() + " owned by consumer " + Describe(p->consumer) +
                             " that the group does not list; the value is corrupt, re-read it");
      }
    }
    w.WriteString(g->name);
    WriteStreamIdLengths(w, g->last_delivered_id);
    if (t.version >= 10) w.WriteLength(static_cast<uint64_t>(g->entries_read));
    w.WriteLength(pel.size());
    for (const StreamPendingEntry* p : pel) {
      w.WriteStreamIdRaw(p->id.ms, p->id.seq);
      w.WriteMillis(p->delivery_time_ms);
      w.WriteLength(p->delivery_count);
    }
    w.WriteLength(consumers.size());
    for (const StreamConsumer* c : consumers) {
      w.WriteString(c->name);
      w.WriteMillis(c->seen_time_ms);
      // -1 is written as is: it is also what the server stores for a consumer that was
      // created but never read (XGROUP CREATECONSUMER), so it cannot be replaced by an
      // estimate without breaking such consumers.
      if (t.version >= 11) w.WriteMillis(c->active_time_ms);
      size_t owned = 0;
      for (const StreamPendingEntry* p : pel) owned += p->consumer == c->name ? 1 : 0;
      w.WriteLength(owned);
      for (const StreamPendingEntry* p : pel) {
        if (p->consumer == c->name) w.WriteStreamIdRaw(p->id.ms, p->id.seq);
      }
    }
  }
  return {};
}

// The version field of a payload at least kFooterSize long.
int FooterVersion(ByteView dump_payload) {
  if (dump_payload.size() < kFooterSize) return -1;
  const size_t at = dump_payload.size() - kFooterSize;
  return dump_payload[at] | (dump_payload[at + 1] << 8);
}

}  // namespace

std::string FormatScore(double score, int rdb_version) {
  if (std::isnan(score)) return "nan";
  if (std::isinf(score)) return score < 0 ? "-inf" : "inf";
  if (score == 0) return std::signbit(score) ? "-0" : "0";
  if (rdb_version >= 11) {
    int64_t as_int = 0;
    if (ScoreAsInteger(score, &as_int)) return std::to_string(as_int);
    return FormatShortest(score);
  }
  // Redis <= 7.0 d2string: integers printed as such only within +-(2^52 - 1).
  constexpr double kMin = -4503599627370495.0;
  constexpr double kMax = 4503599627370496.0;
  if (score > kMin && score < kMax && score == static_cast<double>(static_cast<int64_t>(score))) {
    return std::to_string(static_cast<int64_t>(score));
  }
  return FormatPercent17g(score);
}

Result<Bytes> EncodeDumpPayload(const Value& value, int target_rdb_version,
                                const EncodeOptions& options) {
  if (target_rdb_version < kMinEncodeRdbVersion || target_rdb_version > kMaxEncodeRdbVersion) {
    return MakeError(RdbErrc::kUnsupportedVersion,
                     "cannot encode values for RDB version " + std::to_string(target_rdb_version) +
                         ": the encoder writes RDB 9 (Redis 6.2), 10 (Redis 7.0) and 11 "
                         "(Redis 7.2, Valkey 7.2-8.1); pass the target's version");
  }
  const Target t{target_rdb_version};
  RdbWriter w(options.compress_strings);
  switch (value.type) {
    case ValueType::kString:
      EncodeString(value, w);
      break;
    case ValueType::kList:
      KF_RETURN_IF_ERROR(CheckNotEmpty(value.elements.size(), "list"));
      if (t.listpacks()) {
        EncodeListV2(value, t, options, w);
      } else {
        EncodeListZiplist(value, options, w);
      }
      break;
    case ValueType::kSet:
      KF_RETURN_IF_ERROR(CheckNotEmpty(value.elements.size(), "set"));
      EncodeSet(value, t, options, w);
      break;
    case ValueType::kZset:
      KF_RETURN_IF_ERROR(CheckNotEmpty(value.zset.size(), "sorted set"));
      for (const ZsetEntry& e : value.zset) {
        if (std::isnan(e.score)) {
          return MakeError(RdbErrc::kInvalidValue,
                           "sorted set member " + Describe(e.member) +
                               " has a NaN score, which no server accepts; the value is "
                               "corrupt, re-read it");
        }
      }
      EncodeZset(value, t, options, w);
      break;
    case ValueType::kHash: {
      KF_RETURN_IF_ERROR(CheckNotEmpty(value.hash.size(), "hash"));
      size_t with_ttl = 0;
      const HashField* example = nullptr;
      for (const HashField& f : value.hash) {
        if (f.expire_ms != -1) {
          ++with_ttl;
          if (example == nullptr) example = &f;
        }
      }
      if (with_ttl > 0 && !options.drop_field_ttls) {
        return MakeError(RdbErrc::kFieldTtlNotRepresentable,
                         "hash has " + std::to_string(with_ttl) +
                             " field(s) with their own TTL (e.g. " + Describe(example->field) +
                             "): hash field TTLs are not representable in RDB " +
                             std::to_string(target_rdb_version) +
                             (target_rdb_version == 11 ? " (Valkey 8)" : "") +
                             "; choose drop-field-ttl to drop them");
      }
      EncodeHash(value, t, options, w);
      break;
    }
    case ValueType::kStream:
      KF_RETURN_IF_ERROR(EncodeStream(value, t, options, w));
      break;
    case ValueType::kModule:
      return MakeError(RdbErrc::kModuleValue,
                       "module values cannot be re-encoded (their format belongs to the "
                       "module); pass the source payload through or exclude the key");
  }
  Bytes out = w.Take();
  AppendFooter(out, target_rdb_version);
  return out;
}

Result<Bytes> RewriteDumpFooter(ByteView serialized_value, int target_rdb_version) {
  if (serialized_value.empty()) {
    return MakeError(RdbErrc::kBadDumpPayload,
                     "cannot add a DUMP footer to an empty value: the serialized value must "
                     "start with its RDB type byte");
  }
  KF_RETURN_IF_ERROR(CheckFooterVersion(target_rdb_version));
  Bytes out;
  out.reserve(serialized_value.size() + kFooterSize);
  out.assign(serialized_value.begin(), serialized_value.end());
  AppendFooter(out, target_rdb_version);
  return out;
}

Result<void> WriteDumpPayload(ByteView serialized_value, int rdb_version, std::span<uint8_t> out) {
  if (serialized_value.empty() || out.size() != serialized_value.size() + kFooterSize) {
    return MakeError(RdbErrc::kBadDumpPayload,
                     "cannot write a DUMP payload of a " + std::to_string(serialized_value.size()) +
                         "-byte value into " + std::to_string(out.size()) +
                         " bytes: the value must start with its RDB type byte and the room "
                         "must hold it and the 10-byte footer exactly");
  }
  KF_RETURN_IF_ERROR(CheckFooterVersion(rdb_version));
  std::memcpy(out.data(), serialized_value.data(), serialized_value.size());
  WriteFooter(Crc64(0, serialized_value), rdb_version, out.data() + serialized_value.size());
  return {};
}

Result<Bytes> RetargetDumpPayload(ByteView dump_payload, int target_rdb_version) {
  if (dump_payload.size() < kFooterSize + 1) {
    return MakeError(RdbErrc::kBadDumpPayload,
                     "DUMP payload of " + std::to_string(dump_payload.size()) +
                         " bytes is too short (a type byte and a 10-byte footer are the "
                         "minimum); take the DUMP again");
  }
  const size_t body = dump_payload.size() - 8;
  uint64_t stored = 0;
  for (int i = 0; i < 8; ++i) stored |= static_cast<uint64_t>(dump_payload[body + i]) << (8 * i);
  const uint64_t actual = Crc64(0, dump_payload.first(body));
  if (stored != actual) {
    char msg[200];
    std::snprintf(msg, sizeof(msg),
                  "DUMP payload CRC-64 mismatch at offset %zu: stored %016llx, computed "
                  "%016llx; the payload is corrupt, take the DUMP again",
                  body, static_cast<unsigned long long>(stored),
                  static_cast<unsigned long long>(actual));
    return MakeError(RdbErrc::kChecksumMismatch, msg);
  }
  const int source_version = FooterVersion(dump_payload);
  const int type = dump_payload[0];
  if (!IsTypeLoadableAsIs(type, source_version, target_rdb_version)) {
    return MakeError(RdbErrc::kNotLoadable,
                     "RDB type " + std::to_string(type) + " from RDB " +
                         std::to_string(source_version) + " cannot be loaded as is by RDB " +
                         std::to_string(target_rdb_version) +
                         "; decode the value and re-encode it (or replay it as commands)");
  }
  return RewriteDumpFooter(dump_payload.first(dump_payload.size() - kFooterSize),
                           target_rdb_version);
}

int MinRdbVersionForType(int rdb_type) {
  switch (rdb_type) {
    case kTypeString:
    case kTypeList:  // linked list
    case kTypeSet:   // hash table
    case kTypeZset:  // string scores
    case kTypeHash:  // hash table
      return 1;
    case kTypeHashZipmap:
    case kTypeListZiplist:
    case kTypeSetIntset:
    case kTypeZsetZiplist:
    case kTypeHashZiplist:
      return 4;               // all present by RDB 4 (Redis 2.6)
    case kTypeListQuicklist:  // quicklist of ziplists (Redis 3.2)
      return 7;
    case kTypeZset2:  // binary double scores (Redis 4.0)
    case kTypeModulePreGa:
    case kTypeModule2:
      return 8;
    case kTypeStreamListpacks:  // Redis 5.0
      return 9;
    case kTypeHashListpack:
    case kTypeZsetListpack:
    case kTypeListQuicklist2:
    case kTypeStreamListpacks2:
      return 10;
    case kTypeSetListpack:
    case kTypeStreamListpacks3:
      return 11;
    case kTypeRedisHashMetadataPreGa:
    case kTypeRedisHashListpackExPreGa:
    case kTypeRedisHashMetadata:
    case kTypeRedisHashListpackEx:
      return 12;
    default:
      return -1;
  }
}

bool IsTypeLoadableAsIs(int rdb_type, int source_rdb_version, int target_rdb_version) {
  constexpr int kValkeyFirstVersion = 80;
  if (rdb_type == kTypeModulePreGa || rdb_type == kTypeModule2) return false;
  if (rdb_type <= kTypeStreamListpacks3) {
    const int min_version = MinRdbVersionForType(rdb_type);
    if (min_version < 0) return false;
    // Valkey 9+ (RDB 80+) reads every type of RDB 11.
    if (target_rdb_version >= kValkeyFirstVersion) return true;
    return min_version <= target_rdb_version;
  }
  // Types 22 and up mean different things in Redis and Valkey files.
  const bool source_valkey = source_rdb_version >= kValkeyFirstVersion;
  const bool target_valkey = target_rdb_version >= kValkeyFirstVersion;
  if (source_valkey != target_valkey) return false;
  if (!source_valkey && MinRdbVersionForType(rdb_type) < 0) return false;
  return target_rdb_version >= source_rdb_version;
}

}  // namespace kf::rdb
