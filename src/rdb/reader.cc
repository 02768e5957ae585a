// The streaming RDB reader (see reader.h for the contract).
//
// How it streams: the input is parsed in "units" - one length, one string, one fixed-size
// field - each of which is either complete in the bytes at hand or not started. When a
// unit is cut by the end of a chunk, its first bytes are kept in `pending_` and exactly
// the number of bytes it still needs is appended from the next chunks (the unit parsers
// report how many they need), so a unit is re-tried only when it can make progress and
// the rest of a chunk is parsed in place, without copying. Values are walked by an
// explicit state machine (phase_ + counters), so a value resumes at the element it had
// reached. When the sink does not need a string's bytes (kSkip/kRaw), a string longer
// than the bytes at hand is passed over as it arrives instead of being buffered.
//
// The CRC64 and the raw capture of a value (kRaw) are computed over each window's consumed
// bytes in one call when the window is left, not per unit.
#include "rdb/reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "rdb/crc64.h"
#include "rdb/intset.h"
#include "rdb/listpack.h"
#include "rdb/lzf_codec.h"
#include "rdb/ziplist.h"
#include "rdb/zipmap.h"

namespace kf::rdb {
namespace {

enum class Top : uint8_t {
  kHeader,
  kOpcode,
  kDumpType,
  kAuxKey,
  kAuxValue,
  kSelectDb,
  kResize1,
  kResize2,
  kExpireSec,
  kExpireMs,
  kIdle,
  kFreq,
  kFunction2,
  kFnName,
  kFnEngine,
  kFnHasDesc,
  kFnDesc,
  kFnCode,
  kSlot1,
  kSlot2,
  kSlot3,
  kKey,
  kValue,
  kChecksum,
  kDone,
};

enum class Ph : uint8_t {
  kStr,
  kStrPlain,  // a big string's bytes, streamed in parts
  kStrLzf,    // a big LZF string's compressed bytes, decompressed in parts
  kCount,
  kListElem,
  kSetElem,
  kZsetMember,
  kZsetScore,
  kHashField,
  kHashValue,
  kMinExpire,
  kHmTtl,
  kHmField,
  kHmValue,
  kBlob,
  kQlNode,
  kQl2Container,
  kQl2Node,
  kStNodeKey,
  kStNodeLp,
  kStLength,
  kStLastMs,
  kStLastSeq,
  kStFirstMs,
  kStFirstSeq,
  kStMaxDelMs,
  kStMaxDelSeq,
  kStAdded,
  kStGroups,
  kGrName,
  kGrLastMs,
  kGrLastSeq,
  kGrEntriesRead,
  kGrPelCount,
  kGrPel,
  kGrPelCountDelivery,
  kGrConsumers,
  kCoName,
  kCoSeen,
  kCoActive,
  kCoPelCount,
  kCoPel,
  kModId,
  kModOp,
  kModOperand,
  kMaId,
  kMaWhenOp,
  kMaWhen,
  kDone,
};

ValueType ValueTypeOf(TypeKind k) {
  switch (k) {
    case TypeKind::kListLinked:
    case TypeKind::kListZiplist:
    case TypeKind::kListQuicklist:
    case TypeKind::kListQuicklist2:
      return ValueType::kList;
    case TypeKind::kSetPlain:
    case TypeKind::kSetIntset:
    case TypeKind::kSetListpack:
      return ValueType::kSet;
    case TypeKind::kZsetOld:
    case TypeKind::kZset2:
    case TypeKind::kZsetZiplist:
    case TypeKind::kZsetListpack:
      return ValueType::kZset;
    case TypeKind::kHashPlain:
    case TypeKind::kHashZipmap:
    case TypeKind::kHashZiplist:
    case TypeKind::kHashListpack:
    case TypeKind::kHashMetadata:
    case TypeKind::kHashListpackEx:
      return ValueType::kHash;
    case TypeKind::kStream:
      return ValueType::kStream;
    case TypeKind::kModulePreGa:
    case TypeKind::kModule2:
      return ValueType::kModule;
    default:
      return ValueType::kString;
  }
}

StreamId DecodeStreamIdBe(const uint8_t* p) {
  StreamId id;
  for (int i = 0; i < 8; ++i) id.ms = (id.ms << 8) | p[i];
  for (int i = 8; i < 16; ++i) id.seq = (id.seq << 8) | p[i];
  return id;
}

bool ParseScore(const PackedEntry& e, double* out) {
  if (e.is_int) {
    *out = static_cast<double>(e.int_value);
    return true;
  }
  if (e.str.empty() || e.str.size() > 255) return false;
  char buf[256];
  std::memcpy(buf, e.str.data(), e.str.size());
  buf[e.str.size()] = '\0';
  char* stop = nullptr;
  *out = std::strtod(buf, &stop);
  return stop == buf + e.str.size() && !std::isnan(*out);
}

// A decoded string: a view into the input window, or into scratch slot `slot`.
struct Str {
  std::string_view v;
  int slot = -1;
};

}  // namespace

class RdbReader::Impl {
 public:
  Impl(RdbSink* sink, ReaderOptions options) : sink_(sink), opts_(options) {}

  Result<void> Feed(ByteView data);
  Result<void> Finish();
  void StartDump(const RdbFormat& format) {
    format_ = format;
    state_ = Top::kDumpType;
    crc_active_ = false;
  }
  uint64_t offset() const { return consumed_total_; }
  bool done() const { return state_ == Top::kDone; }
  const RdbFormat& format() const { return format_; }

 private:
  // ---- windows and units ----
  size_t RunWindow(const uint8_t* p, size_t n);
  void Run();
  bool Step();
  bool StepValue();
  size_t Avail() const { return static_cast<size_t>(end_ - cur_); }
  uint64_t Offset() const { return win_base_ + static_cast<uint64_t>(cur_ - win_begin_); }
  bool NeedMore(size_t n) {
    need_ = n;
    return false;
  }
  bool Fail(RdbErrc code, const std::string& what);
  std::string Where() const;
  bool TakeFixed(size_t n, const uint8_t** out);
  bool TakeLen(uint64_t* v, const char* what);
  // The header of the RDB string at cur_ (not consumed): plain, int-encoded or LZF.
  struct StringHead {
    enum class Kind : uint8_t { kPlain, kInt, kLzf } kind = Kind::kPlain;
    size_t head = 0;       // bytes before the body (length encodings)
    uint64_t body = 0;     // bytes of the body: the string, the integer, the LZF data
    uint64_t lzf_len = 0;  // kLzf: the uncompressed length
  };
  bool TakeStringHead(StringHead* h, const char* what);
  // Fails when the string's claimed lengths are above max_string_bytes.
  bool CheckStringLimits(const StringHead& h, const char* what);
  bool TakeString(int slot, Str* out, const char* what);
  bool SkipString(const char* what);
  std::string Own(const Str& s) {
    if (s.slot >= 0) {
      std::string& sc = scratch_[s.slot];
      if (sc.data() == s.v.data() && sc.size() == s.v.size()) return std::move(sc);
    }
    return std::string(s.v);
  }
  void FlushCapture() {
    if (capturing_ && raw_from_ != nullptr && cur_ > raw_from_) {
      size_t n = static_cast<size_t>(cur_ - raw_from_);
      GrowRaw(raw_.size() + n);
      raw_.append(reinterpret_cast<const char*>(raw_from_), n);
    }
    raw_from_ = cur_;
  }
  // Past 1 MiB the capture buffer goes at once to the most it holds before a value is
  // known big (the threshold) instead of doubling: its pages only become resident as they
  // are written, and no doubling copies tens of MB into a new buffer (needing both for a
  // moment, up to twice the threshold).
  void GrowRaw(size_t need) {
    if (need <= raw_.capacity() || need <= kBigPartBytes) return;
    uint64_t most = std::min<uint64_t>(opts_.big_value_bytes, kMaxCaptureReserve);
    if (need <= most) raw_.reserve(static_cast<size_t>(most));
  }

  // ---- values ----
  bool StartValue();
  bool FinishValue();
  // The size of the value so far: its serialized bytes, each LZF string counted at its
  // uncompressed length (what the target will hold, roughly).
  uint64_t ValueBytes() const { return 1 + (Offset() - value_start_) + lzf_extra_; }
  // Parts of a value known to be big: at most this many bytes (1 MiB, or the threshold
  // when lower).
  uint64_t PartBytes() const {
    return std::max<uint64_t>(1, std::min<uint64_t>(opts_.big_value_bytes, kBigPartBytes));
  }
  // kRaw: decides whether the value is big and hands over a part when enough is captured.
  void CheckRawPart();
  void EmitRawParts(bool last);
  void ReleaseRaw();
  // kStruct/kData: a string longer than big_value_bytes, streamed in parts.
  bool StartBigString(const StringHead& h);
  void EmitStringPart();
  bool DecodeBlob(std::string_view blob, BlobKind kind);
  bool DecodeStreamNode(const uint8_t* key16, std::string_view blob);
  void AddBytes(size_t n) { part_bytes_ += n; }
  void ResetValue() {
    value_ = Value{};
    value_dirty_ = false;
  }
  static constexpr uint64_t kBigPartBytes = uint64_t{1} << 20;
  static constexpr uint64_t kMaxCaptureReserve = uint64_t{512} << 20;  // proto-max-bulk-len
  void MaybeEmitPart();
  bool decode() const { return level_ >= AccessLevel::kStruct; }
  bool ElementDone() {
    if (--count_ == 0) phase_ = Ph::kDone;
    return true;
  }
  // Stream groups: the phase after a group's last consumer, and after a consumer's last
  // PEL reference (the next consumer, the next group, or the end of the value).
  Ph AfterGroup() { return --groups_left_ ? Ph::kGrName : Ph::kDone; }
  Ph AfterConsumer() { return --consumers_left_ ? Ph::kCoName : AfterGroup(); }
  std::string Describe() const;

  RdbSink* sink_;
  ReaderOptions opts_;
  RdbFormat format_;
  Top state_ = Top::kHeader;

  // Window being parsed.
  const uint8_t* win_begin_ = nullptr;
  const uint8_t* cur_ = nullptr;
  const uint8_t* end_ = nullptr;
  uint64_t win_base_ = 0;
  uint64_t consumed_total_ = 0;
  std::string pending_;  // the first bytes of a unit cut by the end of a chunk
  size_t need_ = 0;      // bytes that unit needs in total
  uint64_t skip_remaining_ = 0;

  bool failed_ = false;
  Error error_;

  uint64_t crc_ = 0;
  bool crc_active_ = true;
  const uint8_t* crc_from_ = nullptr;
  uint64_t computed_crc_ = 0;
  uint64_t eof_offset_ = 0;

  // Raw capture (kRaw values, module data).
  bool capturing_ = false;
  const uint8_t* raw_from_ = nullptr;
  std::string raw_;
  uint64_t raw_emitted_ = 0;

  std::string scratch_[3];
  std::string pending_str_;  // aux key, hash field, zset member, function pieces

  // Key metadata.
  uint64_t db_ = 0;
  int64_t expire_ms_ = -1;
  int64_t idle_s_ = -1;
  int freq_ = -1;
  uint8_t type_byte_ = 0;
  uint64_t type_offset_ = 0;
  uint64_t value_start_ = 0;
  std::string key_;
  KeyInfo info_;
  AccessLevel level_ = AccessLevel::kData;
  bool is_dump_ = false;
  bool in_module_aux_ = false;

  // Value state.
  Ph phase_ = Ph::kDone;
  Ph elem_phase_ = Ph::kDone;
  uint64_t count_ = 0;
  uint64_t blob_index_ = 0;
  uint64_t part_bytes_ = 0;
  bool big_ = false;        // the value is bigger than big_value_bytes: it goes in parts
  uint64_t lzf_extra_ = 0;  // bytes this value's LZF strings add once decompressed
  uint64_t str_left_ = 0;   // kStrPlain / kStrLzf: input bytes of the string still to come
  LzfStreamDecoder lzf_;    // kStrLzf
  Value value_;
  bool value_dirty_ = false;  // value_ may hold something of an earlier value
  int64_t min_expire_ = 0;
  int64_t field_ttl_ = -1;
  uint64_t container_ = 0;
  uint8_t node_key_[16] = {};
  uint64_t resize_db_size_ = 0;
  uint64_t slot_[2] = {0, 0};
  FunctionLibrary fn_;
  // Streams.
  uint64_t groups_left_ = 0, pel_left_ = 0, consumers_left_ = 0, cpel_left_ = 0;
  StreamPendingEntry pel_entry_;
  std::string consumer_name_;
  bool pel_sorted_ = false;
  // Modules.
  uint64_t module_id_ = 0;
  uint64_t module_op_ = 0;
  uint64_t module_when_ = 0;
};

// ---------------------------------------------------------------------------------------
// Feeding.

Result<void> RdbReader::Impl::Feed(ByteView data) {
  if (failed_) return MakeError(error_);
  const uint8_t* p = data.data();
  size_t n = data.size();
  while (n > 0 && !failed_) {
    if (!pending_.empty()) {
      size_t want = need_ > pending_.size() ? need_ - pending_.size() : 1;
      size_t take = std::min(want, n);
      pending_.append(reinterpret_cast<const char*>(p), take);
      p += take;
      n -= take;
      if (pending_.size() < need_) break;
      size_t used = RunWindow(reinterpret_cast<const uint8_t*>(pending_.data()), pending_.size());
      pending_.erase(0, used);
    } else {
      size_t used = RunWindow(p, n);
      p += used;
      n -= used;
      if (n > 0 && !failed_) {
        pending_.assign(reinterpret_cast<const char*>(p), n);
        n = 0;
      }
    }
  }
  if (failed_) return MakeError(error_);
  return {};
}

Result<void> RdbReader::Impl::Finish() {
  if (failed_) return MakeError(error_);
  if (state_ == Top::kDone && pending_.empty()) return {};
  failed_ = true;
  uint64_t at = consumed_total_ + pending_.size();
  error_ =
      Error{make_error_code(RdbErrc::kTruncated),
            "RDB input ended at offset " + std::to_string(at) + " while reading " + Describe() +
                (need_ > pending_.size()
                     ? " (" + std::to_string(need_ - pending_.size()) + " more bytes needed)"
                     : std::string()) +
                "; the file or transfer is truncated - copy or transfer it again"};
  return MakeError(error_);
}

size_t RdbReader::Impl::RunWindow(const uint8_t* p, size_t n) {
  win_begin_ = cur_ = p;
  end_ = p + n;
  win_base_ = consumed_total_;
  crc_from_ = p;
  raw_from_ = p;
  Run();
  if (crc_active_ && cur_ > crc_from_) {
    crc_ = Crc64(crc_, ByteView(crc_from_, static_cast<size_t>(cur_ - crc_from_)));
  }
  FlushCapture();
  size_t used = static_cast<size_t>(cur_ - p);
  consumed_total_ += used;
  return used;
}

void RdbReader::Impl::Run() {
  while (!failed_) {
    if (skip_remaining_ > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(Avail(), skip_remaining_));
      cur_ += n;
      skip_remaining_ -= n;
      CheckRawPart();
      if (skip_remaining_ > 0) {
        need_ = 1;
        return;
      }
      continue;
    }
    if (!Step()) return;
    CheckRawPart();
  }
}

bool RdbReader::Impl::Fail(RdbErrc code, const std::string& what) {
  failed_ = true;
  error_ = Error{make_error_code(code), what + " at offset " + std::to_string(Offset()) + Where()};
  return false;
}

std::string RdbReader::Impl::Where() const {
  if (state_ == Top::kValue || state_ == Top::kKey) {
    if (in_module_aux_) return " (module aux record)";
    std::string s = " (";
    if (state_ == Top::kValue && !is_dump_) s += "key \"" + Printable(key_) + "\", ";
    s += RdbTypeName(type_byte_, format_) + " value starting at offset " +
         std::to_string(type_offset_) + ")";
    return s;
  }
  return "";
}

std::string RdbReader::Impl::Describe() const {
  switch (state_) {
    case Top::kHeader:
      return "the 9-byte RDB header";
    case Top::kOpcode:
      return "the next opcode or key type (no EOF record seen)";
    case Top::kDumpType:
      return "the DUMP payload's type byte";
    case Top::kAuxKey:
    case Top::kAuxValue:
      return "an AUX field";
    case Top::kKey:
      return "a key name" + Where();
    case Top::kValue:
      return "a value" + Where();
    case Top::kChecksum:
      return "the 8-byte CRC64 after the EOF opcode";
    case Top::kDone:
      return "nothing (already complete)";
    default:
      return "an opcode record";
  }
}

// ---------------------------------------------------------------------------------------
// Units.

bool RdbReader::Impl::TakeFixed(size_t n, const uint8_t** out) {
  if (Avail() < n) return NeedMore(n);
  *out = cur_;
  cur_ += n;
  return true;
}

bool RdbReader::Impl::TakeLen(uint64_t* v, const char* what) {
  bool special = false;
  size_t size = 0;
  Parse r = DecodeLength(cur_, end_, v, &special, &size);
  if (r == Parse::kNeedMore) return NeedMore(size);
  if (r == Parse::kCorrupt || special) {
    return Fail(RdbErrc::kCorrupt, std::string("invalid length encoding byte 0x") +
                                       HexEncode(ByteView(cur_, 1)) + " for " + what);
  }
  cur_ += size;
  return true;
}

bool RdbReader::Impl::TakeStringHead(StringHead* h, const char* what) {
  uint64_t len = 0;
  bool special = false;
  size_t hs = 0;
  Parse r = DecodeLength(cur_, end_, &len, &special, &hs);
  if (r == Parse::kNeedMore) return NeedMore(hs);
  if (r == Parse::kCorrupt) {
    return Fail(RdbErrc::kCorrupt, std::string("invalid string length encoding byte 0x") +
                                       HexEncode(ByteView(cur_, 1)) + " for " + what);
  }
  *h = StringHead{};
  h->head = hs;
  if (!special) {
    h->body = len;
    return true;
  }
  if (len <= 2) {  // an integer of 1, 2 or 4 bytes
    h->kind = StringHead::Kind::kInt;
    h->body = len == 0 ? 1 : len == 1 ? 2 : 4;
    return true;
  }
  if (len != 3) {
    return Fail(RdbErrc::kCorrupt,
                "unknown string encoding " + std::to_string(len) + " for " + what);
  }
  // LZF: compressed length, uncompressed length, data.
  bool sp2 = false;
  size_t s1 = 0, s2 = 0;
  r = DecodeLength(cur_ + hs, end_, &h->body, &sp2, &s1);
  if (r == Parse::kNeedMore) return NeedMore(hs + s1);
  if (r == Parse::kCorrupt || sp2) {
    return Fail(RdbErrc::kCorrupt, std::string("bad LZF compressed length for ") + what);
  }
  r = DecodeLength(cur_ + hs + s1, end_, &h->lzf_len, &sp2, &s2);
  if (r == Parse::kNeedMore) return NeedMore(hs + s1 + s2);
  if (r == Parse::kCorrupt || sp2) {
    return Fail(RdbErrc::kCorrupt, std::string("bad LZF length for ") + what);
  }
  h->kind = StringHead::Kind::kLzf;
  h->head = hs + s1 + s2;
  return true;
}

bool RdbReader::Impl::CheckStringLimits(const StringHead& h, const char* what) {
  const uint64_t limit = opts_.max_string_bytes;
  if (h.kind == StringHead::Kind::kLzf && (h.body > limit || h.lzf_len > limit)) {
    return Fail(RdbErrc::kLimitExceeded,
                std::string(what) + " is an LZF string claiming " + std::to_string(h.body) +
                    " compressed / " + std::to_string(h.lzf_len) +
                    " uncompressed bytes, above the limit of " + std::to_string(limit));
  }
  if (h.kind == StringHead::Kind::kPlain && h.body > limit) {
    return Fail(RdbErrc::kLimitExceeded, std::string(what) + " claims " + std::to_string(h.body) +
                                             " bytes, above the limit of " + std::to_string(limit));
  }
  return true;
}

bool RdbReader::Impl::TakeString(int slot, Str* out, const char* what) {
  StringHead h;
  if (!TakeStringHead(&h, what)) return false;
  const uint64_t limit = opts_.max_string_bytes;
  if (!CheckStringLimits(h, what)) return false;
  if (Avail() - h.head < h.body) return NeedMore(h.head + static_cast<size_t>(h.body));
  const uint8_t* body = cur_ + h.head;
  if (h.kind == StringHead::Kind::kPlain) {
    out->v = std::string_view(reinterpret_cast<const char*>(body), static_cast<size_t>(h.body));
    out->slot = -1;
    cur_ += h.head + h.body;
    return true;
  }
  std::string& sc = scratch_[slot];
  if (h.kind == StringHead::Kind::kInt) {
    char buf[24];
    auto tc = std::to_chars(buf, buf + sizeof(buf), DecodeLeSigned(body, h.body));
    sc.assign(buf, static_cast<size_t>(tc.ptr - buf));
  } else {
    auto d = LzfDecompress(ByteView(body, static_cast<size_t>(h.body)), h.lzf_len, limit, &sc);
    if (!d) {
      return Fail(static_cast<RdbErrc>(d.error().code.value()), d.error().message + " in " + what);
    }
  }
  cur_ += h.head + h.body;
  out->v = sc;
  out->slot = slot;
  return true;
}

bool RdbReader::Impl::SkipString(const char* what) {
  StringHead h;
  if (!TakeStringHead(&h, what)) return false;
  if (h.kind == StringHead::Kind::kLzf && h.lzf_len > LzfMaxExpansion(h.body)) {
    return Fail(RdbErrc::kCorrupt, std::string(what) + " is an LZF string claiming " +
                                       std::to_string(h.lzf_len) + " bytes from " +
                                       std::to_string(h.body) + " compressed bytes");
  }
  if (h.body > opts_.max_string_bytes) {
    return Fail(RdbErrc::kLimitExceeded, std::string(what) + " claims " + std::to_string(h.body) +
                                             " bytes, above the limit of " +
                                             std::to_string(opts_.max_string_bytes));
  }
  if (state_ == Top::kValue && !in_module_aux_) {
    if (h.kind == StringHead::Kind::kLzf && h.lzf_len > h.body) lzf_extra_ += h.lzf_len - h.body;
    // A string announces its size: the value is known big from its header on, so a huge
    // string goes in parts from its first bytes, never gathered up to the threshold.
    if (ValueBytes() + h.head + h.body > opts_.big_value_bytes) big_ = true;
  }
  if (Avail() - h.head >= h.body) {
    cur_ += h.head + h.body;
    return true;
  }
  // Pass the rest over as it arrives.
  cur_ += h.head;
  skip_remaining_ = h.body;
  return true;
}

// ---------------------------------------------------------------------------------------
// Top level.

bool RdbReader::Impl::Step() {
  const uint8_t* p = nullptr;
  Str s;
  uint64_t v = 0;
  switch (state_) {
    case Top::kHeader: {
      if (!TakeFixed(9, &p)) return false;
      auto f = ParseHeader(ByteView(p, 9));
      if (!f) {
        failed_ = true;
        error_ = f.error();
        return false;
      }
      format_ = *f;
      sink_->OnHeader(format_);
      state_ = Top::kOpcode;
      return true;
    }
    case Top::kDumpType:
    case Top::kOpcode: {
      if (Avail() < 1) return NeedMore(1);
      uint8_t op = *cur_;
      if (state_ == Top::kOpcode && IsOpcode(op, format_)) {
        uint64_t at = Offset();
        ++cur_;
        switch (op) {
          case kOpEof:
            eof_offset_ = at;
            if (format_.HasChecksum()) {
              crc_ = Crc64(crc_, ByteView(crc_from_, static_cast<size_t>(cur_ - crc_from_)));
              computed_crc_ = crc_;
              crc_active_ = false;
              state_ = Top::kChecksum;
            } else {
              state_ = Top::kDone;
              sink_->OnEof(EofInfo{false, 0, false, eof_offset_});
            }
            return true;
          case kOpSelectDb:
            state_ = Top::kSelectDb;
            return true;
          case kOpResizeDb:
            state_ = Top::kResize1;
            return true;
          case kOpAux:
            state_ = Top::kAuxKey;
            return true;
          case kOpExpireTime:
            state_ = Top::kExpireSec;
            return true;
          case kOpExpireTimeMs:
            state_ = Top::kExpireMs;
            return true;
          case kOpIdle:
            state_ = Top::kIdle;
            return true;
          case kOpFreq:
            state_ = Top::kFreq;
            return true;
          case kOpFunction2:
            state_ = Top::kFunction2;
            return true;
          case kOpFunctionPreGa:
            fn_ = FunctionLibrary{};
            fn_.pre_ga = true;
            state_ = Top::kFnName;
            return true;
          case kOpSlotInfo:
            state_ = Top::kSlot1;
            return true;
          case kOpModuleAux:
            if (!opts_.module_passthrough) {
              --cur_;
              return Fail(RdbErrc::kModuleValue,
                          "module aux record (opcode 247) found; keyferry cannot interpret "
                          "module data - enable module pass-through or remove the module's data");
            }
            in_module_aux_ = true;
            capturing_ = true;
            raw_.clear();
            raw_from_ = cur_;
            level_ = AccessLevel::kSkip;
            type_offset_ = at;
            phase_ = Ph::kMaId;
            state_ = Top::kValue;
            return true;
          default:
            --cur_;
            return Fail(RdbErrc::kUnknownOpcode,
                        "opcode " + std::to_string(op) + " is not supported in " +
                            (format_.magic == RdbMagic::kValkey ? "VALKEY" : "REDIS") + " RDB " +
                            std::to_string(format_.version));
        }
      }
      TypeKind kind = ClassifyType(op, format_);
      auto fmt = [&] {  // only for the errors: this runs once per key
        return std::string(format_.magic == RdbMagic::kValkey ? "VALKEY" : "REDIS") +
               " RDB version " + std::to_string(format_.version);
      };
      if (kind == TypeKind::kInvalid) {
        return Fail(RdbErrc::kUnknownOpcode, "byte " + std::to_string(op) +
                                                 " is neither an opcode nor a value type in " +
                                                 fmt() + "; expected a key type or opcode");
      }
      if (kind == TypeKind::kUnsupported) {
        return Fail(RdbErrc::kUnsupportedType,
                    "value type " + std::to_string(op) + " of " + fmt() +
                        " is not supported by this reader; use a target/version that keyferry "
                        "can decode or drop such keys at the source");
      }
      type_offset_ = Offset();
      type_byte_ = op;
      ++cur_;
      if (state_ == Top::kDumpType) {
        is_dump_ = true;
        key_.clear();
        info_ = KeyInfo{};
        info_.rdb_type = op;
        info_.kind = kind;
        info_.type = ValueTypeOf(kind);
        level_ = AccessLevel::kData;
        value_start_ = Offset();
        state_ = Top::kValue;
        return StartValue();
      }
      state_ = Top::kKey;
      return true;
    }
    case Top::kKey: {
      if (!TakeString(0, &s, "key name")) return false;
      key_.assign(s.v.data(), s.v.size());  // a copy into key_'s buffer: no allocation per key
      info_ = KeyInfo{};
      info_.key = AsBytes(key_);
      info_.db = db_;
      info_.rdb_type = type_byte_;
      info_.kind = ClassifyType(type_byte_, format_);
      info_.type = ValueTypeOf(info_.kind);
      info_.expire_ms = expire_ms_;
      info_.idle_s = idle_s_;
      info_.freq = freq_;
      info_.offset = type_offset_;
      level_ = sink_->OnKey(info_);
      value_start_ = Offset();
      state_ = Top::kValue;
      return StartValue();
    }
    case Top::kValue:
      return StepValue();
    case Top::kAuxKey:
      if (!TakeString(0, &s, "AUX field name")) return false;
      pending_str_ = Own(s);
      state_ = Top::kAuxValue;
      return true;
    case Top::kAuxValue:
      if (!TakeString(1, &s, "AUX field value")) return false;
      sink_->OnAux(AsBytes(pending_str_), AsBytes(s.v));
      state_ = Top::kOpcode;
      return true;
    case Top::kSelectDb:
      if (!TakeLen(&v, "SELECTDB")) return false;
      db_ = v;
      sink_->OnSelectDb(v);
      state_ = Top::kOpcode;
      return true;
    case Top::kResize1:
      if (!TakeLen(&resize_db_size_, "RESIZEDB db size")) return false;
      state_ = Top::kResize2;
      return true;
    case Top::kResize2:
      if (!TakeLen(&v, "RESIZEDB expires size")) return false;
      sink_->OnResizeDb(resize_db_size_, v);
      state_ = Top::kOpcode;
      return true;
    case Top::kExpireSec:
      if (!TakeFixed(4, &p)) return false;
      expire_ms_ = int64_t{static_cast<int32_t>(DecodeLe32(p))} * 1000;
      state_ = Top::kOpcode;
      return true;
    case Top::kExpireMs:
      if (!TakeFixed(8, &p)) return false;
      expire_ms_ = static_cast<int64_t>(DecodeLe64(p));
      state_ = Top::kOpcode;
      return true;
    case Top::kIdle:
      if (!TakeLen(&v, "IDLE")) return false;
      idle_s_ = static_cast<int64_t>(v);
      state_ = Top::kOpcode;
      return true;
    case Top::kFreq:
      if (!TakeFixed(1, &p)) return false;
      freq_ = *p;
      state_ = Top::kOpcode;
      return true;
    case Top::kFunction2: {
      if (!TakeString(0, &s, "FUNCTION library code")) return false;
      fn_ = FunctionLibrary{};
      fn_.code = Own(s);
      // "#!<engine> name=<name> ..." on the first line.
      std::string_view code = fn_.code;
      if (code.starts_with("#!")) {
        std::string_view line =
            code.substr(2, code.find('\n') == std::string_view::npos ? std::string_view::npos
                                                                     : code.find('\n') - 2);
        size_t sp = line.find(' ');
        fn_.engine = std::string(line.substr(0, sp));
        size_t np = line.find("name=");
        if (np != std::string_view::npos) {
          std::string_view rest = line.substr(np + 5);
          fn_.name = std::string(rest.substr(0, rest.find(' ')));
        }
      }
      sink_->OnFunction(fn_);
      state_ = Top::kOpcode;
      return true;
    }
    case Top::kFnName:
      if (!TakeString(0, &s, "pre-GA function library name")) return false;
      fn_.name = Own(s);
      state_ = Top::kFnEngine;
      return true;
    case Top::kFnEngine:
      if (!TakeString(0, &s, "pre-GA function engine")) return false;
      fn_.engine = Own(s);
      state_ = Top::kFnHasDesc;
      return true;
    case Top::kFnHasDesc:
      if (!TakeLen(&v, "pre-GA function description flag")) return false;
      state_ = v ? Top::kFnDesc : Top::kFnCode;
      return true;
    case Top::kFnDesc:
      if (!TakeString(0, &s, "pre-GA function description")) return false;
      fn_.description = Own(s);
      state_ = Top::kFnCode;
      return true;
    case Top::kFnCode:
      if (!TakeString(0, &s, "pre-GA function code")) return false;
      fn_.code = Own(s);
      sink_->OnFunction(fn_);
      state_ = Top::kOpcode;
      return true;
    case Top::kSlot1:
      if (!TakeLen(&slot_[0], "SLOT_INFO slot id")) return false;
      state_ = Top::kSlot2;
      return true;
    case Top::kSlot2:
      if (!TakeLen(&slot_[1], "SLOT_INFO slot size")) return false;
      state_ = Top::kSlot3;
      return true;
    case Top::kSlot3:
      if (!TakeLen(&v, "SLOT_INFO expires size")) return false;
      sink_->OnSlotInfo(slot_[0], slot_[1], v);
      state_ = Top::kOpcode;
      return true;
    case Top::kChecksum: {
      if (!TakeFixed(8, &p)) return false;
      uint64_t stored = DecodeLe64(p);
      EofInfo eof{true, stored, false, eof_offset_};
      if (stored != 0 && opts_.verify_checksum) {
        eof.checksum_checked = true;
        if (stored != computed_crc_) {
          cur_ -= 8;
          return Fail(
              RdbErrc::kChecksumMismatch,
              "RDB checksum mismatch: the file says " + HexEncode(ByteView(p, 8)) +
                  " (LE) but the data gives 0x" +
                  [&] {
                    char b[20];
                    std::snprintf(b, sizeof(b), "%016llx",
                                  static_cast<unsigned long long>(computed_crc_));
                    return std::string(b);
                  }() +
                  "; the file is corrupt - copy or save it again");
        }
      }
      sink_->OnEof(eof);
      state_ = Top::kDone;
      return true;
    }
    case Top::kDone:
      if (Avail() == 0) return NeedMore(1);
      return Fail(RdbErrc::kTrailingData, std::to_string(Avail()) +
                                              " or more bytes after the RDB EOF record; the "
                                              "input is not a single RDB file");
  }
  return Fail(RdbErrc::kCorrupt, "internal reader state error");
}

// ---------------------------------------------------------------------------------------
// Values.

bool RdbReader::Impl::StartValue() {
  // value_ is only written for values that are decoded, module values and streams (whose
  // metadata is read at every level); it is reset after such a value, and left alone for
  // the others (most keys at kRaw), which saves building and freeing a Value per key.
  if (value_dirty_) ResetValue();
  value_dirty_ = level_ >= AccessLevel::kStruct || info_.kind == TypeKind::kModule2 ||
                 info_.kind == TypeKind::kStream;
  value_.type = info_.type;
  part_bytes_ = 0;
  blob_index_ = 0;
  big_ = false;
  lzf_extra_ = 0;
  info_.string_length = 0;
  ReleaseRaw();
  raw_emitted_ = 0;
  capturing_ = false;
  TypeKind kind = info_.kind;
  if (kind == TypeKind::kModulePreGa) {
    return Fail(RdbErrc::kModuleValue,
                "module value of the pre-GA format (type 6) cannot be read; load the file with "
                "the module and save it again");
  }
  if (level_ == AccessLevel::kRaw || kind == TypeKind::kModule2) {
    capturing_ = true;
    raw_.push_back(static_cast<char>(type_byte_));
    raw_from_ = cur_;
  }
  switch (kind) {
    case TypeKind::kString:
      phase_ = Ph::kStr;
      break;
    case TypeKind::kListLinked:
      phase_ = Ph::kCount;
      elem_phase_ = Ph::kListElem;
      break;
    case TypeKind::kSetPlain:
      phase_ = Ph::kCount;
      elem_phase_ = Ph::kSetElem;
      break;
    case TypeKind::kZsetOld:
    case TypeKind::kZset2:
      phase_ = Ph::kCount;
      elem_phase_ = Ph::kZsetMember;
      break;
    case TypeKind::kHashPlain:
      phase_ = Ph::kCount;
      elem_phase_ = Ph::kHashField;
      break;
    case TypeKind::kHashMetadata:
      elem_phase_ = Ph::kHmTtl;
      phase_ = type_byte_ == kTypeRedisHashMetadata ? Ph::kMinExpire : Ph::kCount;
      break;
    case TypeKind::kHashListpackEx:
      phase_ = type_byte_ == kTypeRedisHashListpackEx ? Ph::kMinExpire : Ph::kBlob;
      break;
    case TypeKind::kHashZipmap:
    case TypeKind::kListZiplist:
    case TypeKind::kSetIntset:
    case TypeKind::kZsetZiplist:
    case TypeKind::kHashZiplist:
    case TypeKind::kHashListpack:
    case TypeKind::kZsetListpack:
    case TypeKind::kSetListpack:
      phase_ = Ph::kBlob;
      break;
    case TypeKind::kListQuicklist:
      phase_ = Ph::kCount;
      elem_phase_ = Ph::kQlNode;
      break;
    case TypeKind::kListQuicklist2:
      phase_ = Ph::kCount;
      elem_phase_ = Ph::kQl2Container;
      break;
    case TypeKind::kStream:
      phase_ = Ph::kCount;
      elem_phase_ = Ph::kStNodeKey;
      break;
    case TypeKind::kModule2:
      phase_ = Ph::kModId;
      break;
    default:
      return Fail(RdbErrc::kUnsupportedType,
                  "value type " + std::to_string(type_byte_) + " cannot be decoded");
  }
  return true;
}

void RdbReader::Impl::CheckRawPart() {
  if (!capturing_ || level_ != AccessLevel::kRaw || state_ != Top::kValue || in_module_aux_) return;
  if (!big_) {
    if (ValueBytes() <= opts_.big_value_bytes) return;
    big_ = true;
  }
  // The first part goes as soon as the value is known big (that is how the sink learns
  // it), later ones once a part's worth is captured.
  if (raw_emitted_ == 0 || raw_.size() + static_cast<size_t>(cur_ - raw_from_) >= PartBytes()) {
    EmitRawParts(false);
  }
}

void RdbReader::Impl::EmitRawParts(bool last) {
  // raw_ holds the bytes captured in earlier windows (at most one part's worth once the
  // value is known big); the current window's bytes since raw_from_ go as views, without
  // a copy. Before the end some bytes are always kept back, so that the last part is
  // never empty and a big value always comes in two parts at least.
  size_t tail = static_cast<size_t>(cur_ - raw_from_);
  if (!last && tail == 0) return;
  auto emit = [&](ByteView part, bool final) {
    raw_emitted_ += part.size();
    sink_->OnRawValue(info_, part, final);
  };
  if (!raw_.empty()) {
    if (last && tail == 0) {
      ByteView all = AsBytes(raw_);
      if (raw_emitted_ == 0 && all.size() > 1) {
        emit(all.first(all.size() - 1), false);
        all = all.last(1);
      }
      emit(all, true);
      ReleaseRaw();
      return;
    }
    emit(AsBytes(raw_), false);
    ReleaseRaw();
  }
  const size_t part = static_cast<size_t>(PartBytes());
  if (!last) {
    for (; tail > part; tail -= part, raw_from_ += part) emit(ByteView(raw_from_, part), false);
    return;
  }
  if (tail == 0) emit(ByteView(), true);  // not reached: bytes were kept back
  while (tail > 0) {
    size_t n = std::min(tail, part);
    tail -= n;
    emit(ByteView(raw_from_, n), tail == 0);
    raw_from_ += n;
  }
}

void RdbReader::Impl::ReleaseRaw() {
  // A buffer grown by a big value is given back rather than kept for the next key.
  if (raw_.capacity() > kBigPartBytes) {
    std::string().swap(raw_);
  } else {
    raw_.clear();
  }
}

bool RdbReader::Impl::StartBigString(const StringHead& h) {
  if (!CheckStringLimits(h, "string value")) return false;
  if (h.kind == StringHead::Kind::kLzf) {
    if (h.lzf_len > LzfMaxExpansion(h.body)) {
      return Fail(RdbErrc::kCorrupt, "string value is an LZF string claiming " +
                                         std::to_string(h.lzf_len) + " bytes from " +
                                         std::to_string(h.body) + " compressed bytes");
    }
    lzf_.Reset(h.lzf_len);
    info_.string_length = h.lzf_len;
    phase_ = Ph::kStrLzf;
  } else {
    info_.string_length = h.body;
    phase_ = Ph::kStrPlain;
  }
  cur_ += h.head;
  str_left_ = h.body;
  big_ = true;
  value_.str.clear();
  value_.str.reserve(static_cast<size_t>(PartBytes()));
  return true;
}

void RdbReader::Impl::EmitStringPart() {
  sink_->OnValue(info_, value_, false);
  value_.str.clear();  // the sink may have moved it away
  value_.str.reserve(static_cast<size_t>(PartBytes()));
}

void RdbReader::Impl::MaybeEmitPart() {
  if (level_ < AccessLevel::kStruct || info_.type == ValueType::kString ||
      info_.type == ValueType::kModule) {
    return;
  }
  // The first part tells that the value is big; later ones are smaller.
  if (part_bytes_ >= (big_ ? PartBytes() : opts_.big_value_bytes)) {
    big_ = true;
    sink_->OnValue(info_, value_, false);
    Value fresh;
    fresh.type = value_.type;
    if (value_.type == ValueType::kStream) {
      // Keep metadata/groups gathered so far; only entries are delivered in parts.
      fresh.stream = std::move(value_.stream);
      fresh.stream.entries.clear();
    }
    value_ = std::move(fresh);
    part_bytes_ = 0;
  }
}

bool RdbReader::Impl::FinishValue() {
  uint64_t serialized = 1 + (Offset() - value_start_);
  if (in_module_aux_) {
    FlushCapture();
    ModuleAux aux;
    aux.module_id = module_id_;
    aux.module_name = ModuleNameFromId(module_id_);
    aux.when = module_when_;
    aux.raw = AsBytes(raw_);
    sink_->OnModuleAux(aux);
    in_module_aux_ = false;
    capturing_ = false;
    raw_.clear();
    state_ = Top::kOpcode;
    return true;
  }
  if (level_ == AccessLevel::kRaw) {
    if (big_) {
      EmitRawParts(true);
    } else {
      FlushCapture();
      sink_->OnRawValue(info_, AsBytes(raw_), true);
    }
  } else if (level_ >= AccessLevel::kStruct) {
    if (info_.kind == TypeKind::kModule2) {
      FlushCapture();
      value_.str.assign(raw_, 1, std::string::npos);
    }
    sink_->OnValue(info_, value_, true);
  }
  sink_->OnKeyEnd(info_, serialized);
  capturing_ = false;
  ReleaseRaw();
  if (value_dirty_) ResetValue();
  expire_ms_ = -1;
  idle_s_ = -1;
  freq_ = -1;
  state_ = is_dump_ ? Top::kDone : Top::kOpcode;
  return true;
}

bool RdbReader::Impl::StepValue() {
  const uint8_t* p = nullptr;
  Str s;
  uint64_t v = 0;
  const bool dec = decode();
  switch (phase_) {
    case Ph::kStr: {
      if (!dec) {
        if (!SkipString("string value")) return false;
        phase_ = Ph::kDone;
        return true;
      }
      StringHead h;
      if (!TakeStringHead(&h, "string value")) return false;
      // The same size as at kRaw: type byte, header, and the uncompressed length.
      uint64_t length = h.kind == StringHead::Kind::kLzf ? h.lzf_len : h.body;
      if (h.kind != StringHead::Kind::kInt &&
          ValueBytes() + h.head + length > opts_.big_value_bytes) {
        return StartBigString(h);
      }
      if (!TakeString(0, &s, "string value")) return false;
      value_.str = Own(s);
      info_.string_length = value_.str.size();
      phase_ = Ph::kDone;
      return true;
    }
    case Ph::kStrPlain: {
      if (Avail() == 0) return NeedMore(1);
      size_t room = static_cast<size_t>(PartBytes()) - value_.str.size();
      size_t n = static_cast<size_t>(std::min<uint64_t>({Avail(), str_left_, room}));
      value_.str.append(reinterpret_cast<const char*>(cur_), n);
      cur_ += n;
      str_left_ -= n;
      if (str_left_ == 0) {
        phase_ = Ph::kDone;  // FinishValue hands over the last part
      } else if (value_.str.size() >= PartBytes()) {
        EmitStringPart();
      }
      return true;
    }
    case Ph::kStrLzf: {
      if (value_.str.size() >= PartBytes()) EmitStringPart();
      size_t n = static_cast<size_t>(std::min<uint64_t>(Avail(), str_left_));
      if (n == 0 && str_left_ > 0 && !lzf_.pending_output()) return NeedMore(1);
      size_t room = static_cast<size_t>(PartBytes()) - value_.str.size();
      auto used = lzf_.Decode(ByteView(cur_, n), room, &value_.str);
      if (!used) return Fail(RdbErrc::kCorrupt, used.error().message + " in the string value");
      cur_ += *used;
      str_left_ -= *used;
      if (str_left_ == 0 && !lzf_.pending_output()) {
        auto finished = lzf_.Finish();
        if (!finished) {
          return Fail(RdbErrc::kCorrupt, finished.error().message + " in the string value");
        }
        phase_ = Ph::kDone;
      }
      return true;
    }
    case Ph::kCount:
      if (!TakeLen(&count_, "element count")) return false;
      phase_ = count_ ? elem_phase_ : Ph::kDone;
      if (info_.kind == TypeKind::kStream && count_ == 0) phase_ = Ph::kStLength;
      return true;
    case Ph::kListElem:
    case Ph::kSetElem:
      if (dec) {
        if (!TakeString(0, &s, "element")) return false;
        AddBytes(s.v.size() + 16);
        value_.elements.push_back(Own(s));
        MaybeEmitPart();
      } else if (!SkipString("element")) {
        return false;
      }
      return ElementDone();
    case Ph::kZsetMember:
      if (dec) {
        if (!TakeString(0, &s, "zset member")) return false;
        pending_str_ = Own(s);
      } else if (!SkipString("zset member")) {
        return false;
      }
      phase_ = Ph::kZsetScore;
      return true;
    case Ph::kZsetScore: {
      double score = 0;
      if (info_.kind == TypeKind::kZset2) {
        if (!TakeFixed(8, &p)) return false;
        score = DecodeBinaryDouble(p);
      } else {
        size_t size = 0;
        Parse r = DecodeStringDouble(cur_, end_, &score, &size);
        if (r == Parse::kNeedMore) return NeedMore(size);
        if (r == Parse::kCorrupt) return Fail(RdbErrc::kCorrupt, "zset score is not a number");
        cur_ += size;
      }
      if (std::isnan(score)) return Fail(RdbErrc::kCorrupt, "zset score is NaN");
      if (dec) {
        AddBytes(pending_str_.size() + 24);
        value_.zset.push_back(ZsetEntry{std::move(pending_str_), score});
        MaybeEmitPart();
      }
      phase_ = Ph::kZsetMember;
      return ElementDone();
    }
    case Ph::kHashField:
    case Ph::kHmField:
      if (dec) {
        if (!TakeString(0, &s, "hash field")) return false;
        pending_str_ = Own(s);
      } else if (!SkipString("hash field")) {
        return false;
      }
      phase_ = phase_ == Ph::kHashField ? Ph::kHashValue : Ph::kHmValue;
      return true;
    case Ph::kHashValue:
    case Ph::kHmValue: {
      bool meta = phase_ == Ph::kHmValue;
      if (dec) {
        if (!TakeString(0, &s, "hash value")) return false;
        AddBytes(pending_str_.size() + s.v.size() + 32);
        value_.hash.push_back(HashField{std::move(pending_str_), Own(s), meta ? field_ttl_ : -1});
        MaybeEmitPart();
      } else if (!SkipString("hash value")) {
        return false;
      }
      phase_ = meta ? Ph::kHmTtl : Ph::kHashField;
      return ElementDone();
    }
    case Ph::kMinExpire:
      if (!TakeFixed(8, &p)) return false;
      min_expire_ = static_cast<int64_t>(DecodeLe64(p));
      phase_ = info_.kind == TypeKind::kHashMetadata ? Ph::kCount : Ph::kBlob;
      return true;
    case Ph::kHmTtl:
      if (!TakeLen(&v, "hash field TTL")) return false;
      if (v == 0) {
        field_ttl_ = -1;
      } else if (type_byte_ == kTypeRedisHashMetadata) {
        field_ttl_ = static_cast<int64_t>(v + static_cast<uint64_t>(min_expire_) - 1);
      } else {
        field_ttl_ = static_cast<int64_t>(v);
      }
      phase_ = Ph::kHmField;
      return true;
    case Ph::kBlob:
    case Ph::kQlNode: {
      BlobKind kind;
      switch (info_.kind) {
        case TypeKind::kHashZipmap:
          kind = BlobKind::kZipmap;
          break;
        case TypeKind::kSetIntset:
          kind = BlobKind::kIntset;
          break;
        case TypeKind::kListZiplist:
        case TypeKind::kZsetZiplist:
        case TypeKind::kHashZiplist:
        case TypeKind::kListQuicklist:
          kind = BlobKind::kZiplist;
          break;
        default:
          kind = BlobKind::kListpack;
          break;
      }
      if (dec) {
        if (!TakeString(0, &s, "encoded blob")) return false;
        if (!DecodeBlob(s.v, kind)) return false;
        MaybeEmitPart();
      } else if (!SkipString("encoded blob")) {
        return false;
      }
      if (phase_ == Ph::kBlob) {
        phase_ = Ph::kDone;
        return true;
      }
      return ElementDone();
    }
    case Ph::kQl2Container:
      if (!TakeLen(&container_, "quicklist node container")) return false;
      if (container_ != kQuicklistNodePlain && container_ != kQuicklistNodePacked) {
        return Fail(RdbErrc::kCorrupt, "quicklist node container " + std::to_string(container_) +
                                           " is neither 1 (plain) nor 2 (packed)");
      }
      phase_ = Ph::kQl2Node;
      return true;
    case Ph::kQl2Node:
      if (dec) {
        if (!TakeString(0, &s, "quicklist node")) return false;
        if (container_ == kQuicklistNodePlain) {
          if (level_ == AccessLevel::kStruct) {
            sink_->OnStructBlob(
                info_, StructBlob{BlobKind::kQuicklistPlainNode, AsBytes(s.v), {}, blob_index_++});
          } else {
            AddBytes(s.v.size() + 16);
            value_.elements.push_back(Own(s));
          }
        } else if (!DecodeBlob(s.v, BlobKind::kListpack)) {
          return false;
        }
        MaybeEmitPart();
      } else if (!SkipString("quicklist node")) {
        return false;
      }
      phase_ = Ph::kQl2Container;
      return ElementDone();
    case Ph::kStNodeKey:
      if (dec) {
        if (!TakeString(1, &s, "stream node key")) return false;
        if (s.v.size() != 16) {
          return Fail(RdbErrc::kCorrupt,
                      "stream node key is " + std::to_string(s.v.size()) + " bytes, expected 16");
        }
        std::memcpy(node_key_, s.v.data(), 16);
      } else if (!SkipString("stream node key")) {
        return false;
      }
      phase_ = Ph::kStNodeLp;
      return true;
    case Ph::kStNodeLp:
      if (dec) {
        if (!TakeString(0, &s, "stream node listpack")) return false;
        if (level_ == AccessLevel::kStruct) {
          sink_->OnStructBlob(info_, StructBlob{BlobKind::kStreamListpack, AsBytes(s.v),
                                                ByteView(node_key_, 16), blob_index_++});
        } else if (!DecodeStreamNode(node_key_, s.v)) {
          return false;
        }
        MaybeEmitPart();
      } else if (!SkipString("stream node listpack")) {
        return false;
      }
      if (--count_ == 0) {
        phase_ = Ph::kStLength;
      } else {
        phase_ = Ph::kStNodeKey;
      }
      return true;
    case Ph::kStLength:
      if (!TakeLen(&v, "stream length")) return false;
      value_.stream.length = v;
      phase_ = Ph::kStLastMs;
      return true;
    case Ph::kStLastMs:
      if (!TakeLen(&value_.stream.last_id.ms, "stream last id")) return false;
      phase_ = Ph::kStLastSeq;
      return true;
    case Ph::kStLastSeq:
      if (!TakeLen(&value_.stream.last_id.seq, "stream last id")) return false;
      phase_ = type_byte_ >= kTypeStreamListpacks2 ? Ph::kStFirstMs : Ph::kStGroups;
      return true;
    case Ph::kStFirstMs:
      if (!TakeLen(&value_.stream.first_id.ms, "stream first id")) return false;
      phase_ = Ph::kStFirstSeq;
      return true;
    case Ph::kStFirstSeq:
      if (!TakeLen(&value_.stream.first_id.seq, "stream first id")) return false;
      phase_ = Ph::kStMaxDelMs;
      return true;
    case Ph::kStMaxDelMs:
      if (!TakeLen(&value_.stream.max_deleted_id.ms, "stream max deleted id")) return false;
      phase_ = Ph::kStMaxDelSeq;
      return true;
    case Ph::kStMaxDelSeq:
      if (!TakeLen(&value_.stream.max_deleted_id.seq, "stream max deleted id")) return false;
      phase_ = Ph::kStAdded;
      return true;
    case Ph::kStAdded:
      if (!TakeLen(&value_.stream.entries_added, "stream entries added")) return false;
      value_.stream.has_v2_metadata = true;
      phase_ = Ph::kStGroups;
      return true;
    case Ph::kStGroups:
      if (!TakeLen(&groups_left_, "stream consumer group count")) return false;
      phase_ = groups_left_ ? Ph::kGrName : Ph::kDone;
      return true;
    case Ph::kGrName:
      if (dec) {
        if (!TakeString(0, &s, "consumer group name")) return false;
        value_.stream.groups.emplace_back();
        value_.stream.groups.back().name = Own(s);
      } else if (!SkipString("consumer group name")) {
        return false;
      }
      phase_ = Ph::kGrLastMs;
      return true;
    case Ph::kGrLastMs:
      if (!TakeLen(&v, "consumer group last id")) return false;
      if (dec) value_.stream.groups.back().last_delivered_id.ms = v;
      phase_ = Ph::kGrLastSeq;
      return true;
    case Ph::kGrLastSeq:
      if (!TakeLen(&v, "consumer group last id")) return false;
      if (dec) value_.stream.groups.back().last_delivered_id.seq = v;
      phase_ = type_byte_ >= kTypeStreamListpacks2 ? Ph::kGrEntriesRead : Ph::kGrPelCount;
      return true;
    case Ph::kGrEntriesRead:
      if (!TakeLen(&v, "consumer group entries read")) return false;
      if (dec) value_.stream.groups.back().entries_read = static_cast<int64_t>(v);
      phase_ = Ph::kGrPelCount;
      return true;
    case Ph::kGrPelCount:
      if (!TakeLen(&pel_left_, "consumer group PEL size")) return false;
      pel_sorted_ = true;
      phase_ = pel_left_ ? Ph::kGrPel : Ph::kGrConsumers;
      return true;
    case Ph::kGrPel:
      if (!TakeFixed(24, &p)) return false;
      pel_entry_ = StreamPendingEntry{};
      pel_entry_.id = DecodeStreamIdBe(p);
      pel_entry_.delivery_time_ms = static_cast<int64_t>(DecodeLe64(p + 16));
      phase_ = Ph::kGrPelCountDelivery;
      return true;
    case Ph::kGrPelCountDelivery:
      if (!TakeLen(&pel_entry_.delivery_count, "PEL delivery count")) return false;
      if (dec) {
        auto& pel = value_.stream.groups.back().pel;
        if (!pel.empty() && !(pel.back().id < pel_entry_.id)) pel_sorted_ = false;
        pel.push_back(std::move(pel_entry_));
      }
      phase_ = --pel_left_ ? Ph::kGrPel : Ph::kGrConsumers;
      return true;
    case Ph::kGrConsumers:
      if (!TakeLen(&consumers_left_, "consumer count")) return false;
      if (dec && !pel_sorted_) {
        auto& pel = value_.stream.groups.back().pel;
        std::stable_sort(pel.begin(), pel.end(),
                         [](const auto& a, const auto& b) { return a.id < b.id; });
      }
      phase_ = consumers_left_ ? Ph::kCoName : AfterGroup();
      return true;
    case Ph::kCoName:
      if (dec) {
        if (!TakeString(0, &s, "consumer name")) return false;
        value_.stream.groups.back().consumers.emplace_back();
        value_.stream.groups.back().consumers.back().name = Own(s);
      } else if (!SkipString("consumer name")) {
        return false;
      }
      phase_ = Ph::kCoSeen;
      return true;
    case Ph::kCoSeen:
      if (!TakeFixed(8, &p)) return false;
      if (dec)
        value_.stream.groups.back().consumers.back().seen_time_ms =
            static_cast<int64_t>(DecodeLe64(p));
      phase_ = type_byte_ >= kTypeStreamListpacks3 ? Ph::kCoActive : Ph::kCoPelCount;
      return true;
    case Ph::kCoActive:
      if (!TakeFixed(8, &p)) return false;
      if (dec)
        value_.stream.groups.back().consumers.back().active_time_ms =
            static_cast<int64_t>(DecodeLe64(p));
      phase_ = Ph::kCoPelCount;
      return true;
    case Ph::kCoPelCount:
      if (!TakeLen(&cpel_left_, "consumer PEL size")) return false;
      phase_ = cpel_left_ ? Ph::kCoPel : AfterConsumer();
      return true;
    case Ph::kCoPel:
      if (!TakeFixed(16, &p)) return false;
      if (dec) {
        StreamGroup& g = value_.stream.groups.back();
        StreamId id = DecodeStreamIdBe(p);
        auto it = std::lower_bound(
            g.pel.begin(), g.pel.end(), id,
            [](const StreamPendingEntry& e, const StreamId& x) { return e.id < x; });
        if (it == g.pel.end() || it->id != id) {
          cur_ -= 16;
          return Fail(RdbErrc::kCorrupt,
                      "consumer PEL entry " + id.ToString() + " is not in its group's PEL");
        }
        it->consumer = g.consumers.back().name;
      }
      phase_ = --cpel_left_ ? Ph::kCoPel : AfterConsumer();
      return true;
    case Ph::kModId:
    case Ph::kMaId:
      if (!TakeLen(&module_id_, "module id")) return false;
      if (!opts_.module_passthrough) {
        return Fail(RdbErrc::kModuleValue,
                    "module value of module " + ModuleNameFromId(module_id_) +
                        " cannot be interpreted; enable module pass-through or remove the key");
      }
      phase_ = phase_ == Ph::kModId ? Ph::kModOp : Ph::kMaWhenOp;
      return true;
    case Ph::kMaWhenOp:
      if (!TakeLen(&v, "module aux when-opcode")) return false;
      if (v != kModuleOpUint) return Fail(RdbErrc::kCorrupt, "module aux when-opcode is not UINT");
      phase_ = Ph::kMaWhen;
      return true;
    case Ph::kMaWhen:
      if (!TakeLen(&module_when_, "module aux when")) return false;
      phase_ = Ph::kModOp;
      return true;
    case Ph::kModOp:
      if (!TakeLen(&module_op_, "module opcode")) return false;
      if (module_op_ == kModuleOpEof) {
        phase_ = Ph::kDone;
      } else if (module_op_ > kModuleOpString) {
        return Fail(RdbErrc::kCorrupt, "unknown module opcode " + std::to_string(module_op_));
      } else {
        phase_ = Ph::kModOperand;
      }
      return true;
    case Ph::kModOperand:
      switch (module_op_) {
        case kModuleOpSint:
        case kModuleOpUint:
          if (!TakeLen(&v, "module integer")) return false;
          break;
        case kModuleOpFloat:
          if (!TakeFixed(4, &p)) return false;
          break;
        case kModuleOpDouble:
          if (!TakeFixed(8, &p)) return false;
          break;
        default:
          if (!SkipString("module string")) return false;
          break;
      }
      phase_ = Ph::kModOp;
      return true;
    case Ph::kDone:
      return FinishValue();
  }
  return Fail(RdbErrc::kCorrupt, "internal value state error");
}

bool RdbReader::Impl::DecodeBlob(std::string_view blob_sv, BlobKind kind) {
  ByteView blob = AsBytes(blob_sv);
  if (level_ == AccessLevel::kStruct) {
    sink_->OnStructBlob(info_, StructBlob{kind, blob, {}, blob_index_++});
    return true;
  }
  ++blob_index_;
  AddBytes(blob.size() * 2);
  PackedEntry e;
  const ValueType type = info_.type;
  // Pairs (hash, zset) and triples (hash with TTLs) are gathered here.
  int arity = type == ValueType::kHash   ? (info_.kind == TypeKind::kHashListpackEx ? 3 : 2)
              : type == ValueType::kZset ? 2
                                         : 1;
  PackedEntry parts[3];
  int have = 0;
  auto emit = [&]() -> bool {
    if (type == ValueType::kList || type == ValueType::kSet) {
      value_.elements.push_back(parts[0].ToString());
    } else if (type == ValueType::kZset) {
      double score;
      if (!ParseScore(parts[1], &score)) {
        return Fail(RdbErrc::kCorrupt, "zset score \"" + Printable(parts[1].ToString()) +
                                           "\" in an encoded blob is not a number");
      }
      value_.zset.push_back(ZsetEntry{parts[0].ToString(), score});
    } else {
      int64_t ttl = -1;
      if (arity == 3) {
        int64_t t;
        if (!parts[2].AsInt(&t)) return Fail(RdbErrc::kCorrupt, "hash field TTL is not an integer");
        ttl = t == 0 ? -1 : t;
      }
      value_.hash.push_back(HashField{parts[0].ToString(), parts[1].ToString(), ttl});
    }
    return true;
  };
  auto run = [&](auto& reader) -> bool {
    while (reader.Next(&e)) {
      parts[have++] = e;
      if (have == arity) {
        have = 0;
        if (!emit()) return false;
      }
    }
    return true;
  };
  std::string err;
  switch (kind) {
    case BlobKind::kZipmap: {
      auto r = ZipmapReader::Open(blob);
      if (!r) return Fail(RdbErrc::kCorrupt, r.error().message);
      if (!run(*r)) return false;
      err = r->error();
      break;
    }
    case BlobKind::kZiplist: {
      auto r = ZiplistReader::Open(blob);
      if (!r) return Fail(RdbErrc::kCorrupt, r.error().message);
      if (!run(*r)) return false;
      err = r->error();
      break;
    }
    case BlobKind::kIntset: {
      auto r = IntsetReader::Open(blob);
      if (!r) return Fail(RdbErrc::kCorrupt, r.error().message);
      if (!run(*r)) return false;
      break;
    }
    default: {
      auto r = ListpackReader::Open(blob);
      if (!r) return Fail(RdbErrc::kCorrupt, r.error().message);
      if (!run(*r)) return false;
      err = r->error();
      break;
    }
  }
  if (!err.empty()) return Fail(RdbErrc::kCorrupt, err);
  if (have != 0) {
    return Fail(RdbErrc::kCorrupt, "encoded blob has an odd number of entries for its type");
  }
  return true;
}

bool RdbReader::Impl::DecodeStreamNode(const uint8_t* key16, std::string_view blob_sv) {
  auto r = ListpackReader::Open(AsBytes(blob_sv));
  if (!r) return Fail(RdbErrc::kCorrupt, "stream node: " + r.error().message);
  ListpackReader& lp = *r;
  AddBytes(blob_sv.size() * 2);
  StreamId master = DecodeStreamIdBe(key16);
  PackedEntry e;
  auto next_int = [&](int64_t* out) { return lp.Next(&e) && e.AsInt(out); };
  auto bad = [&](const char* what) {
    return Fail(RdbErrc::kCorrupt,
                std::string("stream node ") + master.ToString() + ": " + what +
                    (lp.error().empty() ? std::string() : " (" + lp.error() + ")"));
  };
  int64_t count, deleted, nfields;
  if (!next_int(&count) || !next_int(&deleted) || !next_int(&nfields) || count < 0 || deleted < 0 ||
      nfields < 0) {
    return bad("bad master entry");
  }
  std::vector<std::string> master_fields;
  for (int64_t i = 0; i < nfields; ++i) {
    if (!lp.Next(&e)) return bad("master fields cut short");
    master_fields.push_back(e.ToString());
  }
  int64_t zero;
  if (!next_int(&zero) || zero != 0) return bad("missing master entry terminator");
  for (int64_t i = 0; i < count + deleted; ++i) {
    int64_t flags, ms_diff, seq_diff;
    if (!next_int(&flags) || !next_int(&ms_diff) || !next_int(&seq_diff))
      return bad("bad entry header");
    StreamEntry entry;
    entry.id.ms = master.ms + static_cast<uint64_t>(ms_diff);
    entry.id.seq = master.seq + static_cast<uint64_t>(seq_diff);
    bool live = (flags & 1) == 0;
    if (flags & 2) {
      for (const auto& f : master_fields) {
        if (!lp.Next(&e)) return bad("entry values cut short");
        if (live) entry.fields.emplace_back(f, e.ToString());
      }
    } else {
      int64_t nf;
      if (!next_int(&nf) || nf < 0) return bad("bad entry field count");
      for (int64_t j = 0; j < nf; ++j) {
        if (!lp.Next(&e)) return bad("entry fields cut short");
        std::string f = e.ToString();
        if (!lp.Next(&e)) return bad("entry values cut short");
        if (live) entry.fields.emplace_back(std::move(f), e.ToString());
      }
    }
    int64_t lpcount;
    if (!next_int(&lpcount)) return bad("missing entry back-count");
    if (live) value_.stream.entries.push_back(std::move(entry));
  }
  if (lp.Next(&e)) return bad("extra entries after the last stream entry");
  if (!lp.error().empty()) return bad("corrupt listpack");
  return true;
}

// ---------------------------------------------------------------------------------------
// Public wrappers.

RdbReader::RdbReader(RdbSink* sink, ReaderOptions options)
    : impl_(std::make_unique<Impl>(sink, options)) {}
RdbReader::~RdbReader() = default;
void RdbReader::ExpectSerializedValue(const RdbFormat& format) { impl_->StartDump(format); }
Result<void> RdbReader::Feed(ByteView data) { return impl_->Feed(data); }
Result<void> RdbReader::Finish() { return impl_->Finish(); }
uint64_t RdbReader::offset() const { return impl_->offset(); }
bool RdbReader::done() const { return impl_->done(); }
const RdbFormat& RdbReader::format() const { return impl_->format(); }

namespace {

class DumpValueSink : public RdbSink {
 public:
  void OnValue(const KeyInfo&, Value& part, bool) override { value = std::move(part); }
  Value value;
};

// The RDB version in a DUMP payload's footer (no CRC check).
Result<int> DumpFooterVersion(ByteView payload) {
  if (payload.size() < 11) {
    return MakeError(
        RdbErrc::kBadDumpPayload,
        "DUMP payload of " + std::to_string(payload.size()) +
            " bytes is shorter than the 11-byte minimum (type + 2-byte version + CRC64)");
  }
  size_t n = payload.size();
  return int{payload[n - 10]} | int{payload[n - 9]} << 8;
}

}  // namespace

Result<Value> DecodeDumpPayload(ByteView payload, const ReaderOptions& options) {
  auto version = DumpFooterVersion(payload);
  if (!version) return MakeError(std::move(version).error());
  size_t n = payload.size();
  uint64_t stored = DecodeLe64(payload.data() + n - 8);
  uint64_t computed = Crc64(0, payload.first(n - 8));
  if (stored != computed) {
    return MakeError(RdbErrc::kBadDumpPayload,
                     "DUMP payload CRC64 mismatch (footer at offset " + std::to_string(n - 8) +
                         "); the payload was altered or cut - DUMP the key again");
  }
  auto format = FormatForDumpVersion(*version);
  if (!format) return MakeError(std::move(format).error());
  DumpValueSink sink;
  ReaderOptions o = options;
  o.big_value_bytes = std::numeric_limits<uint64_t>::max();
  RdbReader::Impl impl(&sink, o);
  impl.StartDump(*format);
  auto fed = impl.Feed(payload.first(n - 10));
  if (!fed) return MakeError(std::move(fed).error());
  if (!impl.done()) {
    return MakeError(RdbErrc::kBadDumpPayload,
                     "DUMP payload value ends early or is incomplete: the value is cut at offset " +
                         std::to_string(impl.offset()) + " of " + std::to_string(n - 10));
  }
  return std::move(sink.value);
}

}  // namespace kf::rdb
