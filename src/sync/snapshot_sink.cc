// SnapshotSink: RESTORE pass-through, re-encoding and chunked commands for big values.
#include "sync/snapshot_sink.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <span>

#include "common/clock.h"
#include "rdb/canonical.h"
#include "rdb/crc64.h"
#include "rdb/encoder.h"
#include "rdb/lzf_codec.h"
#include "rdb/rdb_format.h"
#include "resp/encoder.h"
#include "sync/sync_errc.h"

namespace kf::sync {
namespace {

Bytes EncodeArgs(const std::vector<std::string>& args) {
  resp::CommandEncoder encoder;
  encoder.Add(args);
  return encoder.ToBytes();
}

std::string KeyLabel(ByteView key, int db) {
  return Printable(key, 80) + " (db " + std::to_string(db) + ")";
}

void AppendRdbLength(Bytes* out, uint64_t len) {
  if (len < 64) {
    out->push_back(static_cast<uint8_t>(len));
  } else if (len < 16384) {
    out->push_back(static_cast<uint8_t>(0x40 | (len >> 8)));
    out->push_back(static_cast<uint8_t>(len & 0xff));
  } else if (len <= 0xffffffffULL) {
    out->push_back(0x80);
    for (int s = 24; s >= 0; s -= 8) out->push_back(static_cast<uint8_t>(len >> s));
  } else {
    out->push_back(0x81);
    for (int s = 56; s >= 0; s -= 8) out->push_back(static_cast<uint8_t>(len >> s));
  }
}

// Makes room for n more bytes at the end of *out and returns where they go. Encoding
// through this (one resize, then memcpy) instead of a push_back per byte keeps the per-key
// cost of building RESTOREs and MSETs small.
uint8_t* Extend(Bytes* out, size_t n) {
  size_t at = out->size();
  out->resize(at + n);
  return out->data() + at;
}

void Append(Bytes* out, std::string_view s) {
  if (!s.empty()) std::memcpy(Extend(out, s.size()), s.data(), s.size());
}

// Appends decimal `v`.
void AppendInt(Bytes* out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  Append(out, std::string_view(buf, static_cast<size_t>(end - buf)));
}

// Appends the header of a RESP bulk string of n bytes: "$<n>\r\n".
void AppendBulkHeader(Bytes* out, uint64_t n) {
  char buf[24];
  buf[0] = '$';
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof buf - 2, n);
  end[0] = '\r';
  end[1] = '\n';
  Append(out, std::string_view(buf, static_cast<size_t>(end + 2 - buf)));
}

// Appends one RESP bulk string: "$<n>\r\n<bytes>\r\n".
void AppendBulk(Bytes* out, ByteView bytes) {
  AppendBulkHeader(out, bytes.size());
  uint8_t* p = Extend(out, bytes.size() + 2);
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  p[bytes.size()] = '\r';
  p[bytes.size() + 1] = '\n';
}

void AppendBulk(Bytes* out, std::string_view s) { AppendBulk(out, AsBytes(s)); }

void AppendBulkInt(Bytes* out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  AppendBulk(out, std::string_view(buf, static_cast<size_t>(end - buf)));
}

// Strings whose serialized form is bigger than this go as RESTORE (batching them saves
// little, and decoding would copy them).
constexpr size_t kMsetValueBytes = 16 * 1024;
// Bytes of pairs after which a pending MSET is written.
constexpr size_t kMsetBytes = 64 * 1024;

// Appends a serialized plain string (type byte 0, then an RDB string: raw, int-encoded or
// LZF) to *out as a RESP bulk string, decoded straight into place. False for anything
// else or anything malformed, with *out as it was.
bool AppendRawStringBulk(Bytes* out, ByteView raw) {
  if (raw.size() < 2 || raw[0] != 0) return false;
  const uint8_t* p = raw.data() + 1;
  const uint8_t* end = raw.data() + raw.size();
  uint64_t len = 0;
  bool special = false;
  size_t used = 0;
  if (rdb::DecodeLength(p, end, &len, &special, &used) != rdb::Parse::kOk) return false;
  p += used;
  size_t left = static_cast<size_t>(end - p);
  if (!special) {
    if (len != left) return false;
    AppendBulk(out, ByteView(p, left));
    return true;
  }
  if (len <= 2) {  // int8 / int16 / int32
    size_t bytes = size_t{1} << len;
    if (left != bytes) return false;
    AppendBulkInt(out, rdb::DecodeLeSigned(p, bytes));
    return true;
  }
  if (len != 3) return false;  // LZF: compressed length, plain length, data
  uint64_t clen = 0, plen = 0;
  if (rdb::DecodeLength(p, end, &clen, &special, &used) != rdb::Parse::kOk || special) {
    return false;
  }
  p += used;
  if (rdb::DecodeLength(p, end, &plen, &special, &used) != rdb::Parse::kOk || special) {
    return false;
  }
  p += used;
  if (clen != static_cast<uint64_t>(end - p) || plen > kMsetValueBytes * 64) return false;
  size_t at = out->size();
  AppendBulkHeader(out, plen);
  uint8_t* value = Extend(out, static_cast<size_t>(plen) + 2);
  auto decoded = rdb::LzfDecompressInto(ByteView(p, static_cast<size_t>(clen)),
                                        std::span<uint8_t>(value, static_cast<size_t>(plen)));
  if (!decoded) {
    out->resize(at);
    return false;
  }
  value[plen] = '\r';
  value[plen + 1] = '\n';
  return true;
}

// Bytes RESTORE takes besides the key and the value.
constexpr size_t kRestoreOverhead = 128;

// Appends RESTORE key ttl <serialized value + footer> ABSTTL [IDLETIME s | FREQ f] REPLACE
// to `out`: one copy of the value bytes, the CRC computed on the fly, no allocation (out
// has room for kRestoreOverhead + key + value bytes).
void AppendRestore(Bytes* out, ByteView key, ByteView serialized, int footer_version,
                   int64_t expire_ms, int64_t idle_s, int freq) {
  bool has_idle = idle_s >= 0;
  bool has_freq = !has_idle && freq >= 0;
  Append(out, has_idle || has_freq ? "*8\r\n$7\r\nRESTORE\r\n" : "*6\r\n$7\r\nRESTORE\r\n");
  AppendBulk(out, key);
  AppendBulkInt(out, expire_ms > 0 ? expire_ms : 0);
  AppendBulkHeader(out, serialized.size() + 10);
  uint8_t* p = Extend(out, serialized.size() + 12);
  std::memcpy(p, serialized.data(), serialized.size());
  p += serialized.size();
  uint8_t version[2] = {static_cast<uint8_t>(footer_version & 0xff),
                        static_cast<uint8_t>((footer_version >> 8) & 0xff)};
  p[0] = version[0];
  p[1] = version[1];
  uint64_t crc = rdb::Crc64(rdb::Crc64(0, serialized), ByteView(version, 2));
  for (int i = 0; i < 8; ++i) p[2 + i] = static_cast<uint8_t>(crc >> (8 * i));
  p[10] = '\r';
  p[11] = '\n';
  Append(out, "$6\r\nABSTTL\r\n");
  if (has_idle) {
    Append(out, "$8\r\nIDLETIME\r\n");
    AppendBulkInt(out, idle_s);
  } else if (has_freq) {
    Append(out, "$4\r\nFREQ\r\n");
    AppendBulkInt(out, freq);
  }
  Append(out, "$7\r\nREPLACE\r\n");
}

}  // namespace

// Decodes a big RAW value while it streams: the raw parts are fed to a second RdbReader as
// a one-key RDB file, whose DATA parts become chunked commands.
class SnapshotSink::NestedDecoder : public rdb::RdbSink {
 public:
  NestedDecoder(SnapshotSink* outer, const rdb::RdbFormat& format, int db, ByteView key,
                int64_t expire_ms, uint64_t big_value_bytes)
      : outer_(outer), db_(db), key_(key.begin(), key.end()), expire_ms_(expire_ms) {
    rdb::ReaderOptions options;
    options.verify_checksum = false;
    options.big_value_bytes = big_value_bytes;
    reader_ = std::make_unique<rdb::RdbReader>(this, options);
    char header[16];
    if (format.magic == rdb::RdbMagic::kValkey) {
      std::snprintf(header, sizeof header, "VALKEY%03d", format.version);
    } else {
      std::snprintf(header, sizeof header, "REDIS%04d", format.version);
    }
    prefix_.assign(header, header + 9);
  }

  Result<void> Feed(ByteView part, bool first, bool last) {
    if (first) {
      // type byte, then the key as an RDB string, then the rest of the value.
      Bytes head = prefix_;
      head.push_back(part[0]);
      AppendRdbLength(&head, key_.size());
      head.insert(head.end(), key_.begin(), key_.end());
      KF_RETURN_IF_ERROR(reader_->Feed(ByteView(head)));
      part = part.subspan(1);
    }
    KF_RETURN_IF_ERROR(reader_->Feed(part));
    if (last) {
      const uint8_t eof[9] = {0xff, 0, 0, 0, 0, 0, 0, 0, 0};
      KF_RETURN_IF_ERROR(reader_->Feed(ByteView(eof, 9)));
      return reader_->Finish();
    }
    return {};
  }

  rdb::AccessLevel OnKey(const rdb::KeyInfo&) override { return rdb::AccessLevel::kData; }
  void OnValue(const rdb::KeyInfo& info, rdb::Value& part, bool last) override {
    outer_->WriteValuePart(db_, ByteView(key_), expire_ms_, info.string_length, part, first_part_,
                           last);
    first_part_ = false;
  }

 private:
  SnapshotSink* outer_;
  int db_;
  Bytes key_;
  int64_t expire_ms_;
  Bytes prefix_;
  bool first_part_ = true;
  std::unique_ptr<rdb::RdbReader> reader_;
};

SnapshotSink::SnapshotSink(target::SnapshotLanes* lanes, const KeyFilter* filter,
                           DbLanding* landing, SnapshotSinkOptions options)
    : lanes_(lanes), filter_(filter), landing_(landing), options_(options) {}

SnapshotSink::~SnapshotSink() = default;

void SnapshotSink::SetError(Error e) {
  if (!error_) error_ = std::move(e);
}

void SnapshotSink::OnHeader(const rdb::RdbFormat& format) {
  format_ = format;
  footer_version_ = std::min(format.version, options_.target_rdb_version);
}

void SnapshotSink::OnFunction(const rdb::FunctionLibrary& library) {
  if (error_) return;
  target::WriteOp op;
  op.db = 0;
  op.command = resp::EncodeCommand({"FUNCTION", "LOAD", "REPLACE", library.code});
  op.description = "FUNCTION LOAD of library " + Printable(library.name);
  auto r = lanes_->SubmitToEveryNode(op);  // every primary of a cluster serves FCALL
  if (!r) SetError(std::move(r).error());
  ++functions_loaded_;
}

rdb::AccessLevel SnapshotSink::OnKey(const rdb::KeyInfo& key) {
  value_started_ = false;
  nested_.reset();
  if (error_) return rdb::AccessLevel::kSkip;
  if (!filter_->AcceptsAll() && !filter_->Accepts(AsStringView(key.key))) {
    ++keys_skipped_;
    return rdb::AccessLevel::kSkip;
  }
  auto landed = landing_->Land(static_cast<int>(key.db));
  if (!landed) {
    SetError(std::move(landed).error());
    return rdb::AccessLevel::kSkip;
  }
  key_db_ = *landed;
  if (options_.expiries != nullptr && key.expire_ms > 0 &&
      key.expire_ms <= UnixMillis() + options_.expiry_watch_ms) {
    options_.expiries->Add(key_db_, std::string(AsStringView(key.key)));
  }
  if (rdb::IsTypeLoadableAsIs(key.rdb_type, format_.version, options_.target_rdb_version)) {
    return rdb::AccessLevel::kRaw;
  }
  int db = key_db_;
  bool field_ttl_hash =
      key.kind == rdb::TypeKind::kHashMetadata || key.kind == rdb::TypeKind::kHashListpackEx;
  std::string what =
      rdb::RdbTypeName(key.rdb_type, format_) + " value of key " + KeyLabel(key.key, db);
  switch (options_.on_unsupported) {
    case OnUnsupported::kSkip:
      spdlog::warn("skipping {}: the target (RDB {}) cannot hold it (--on-unsupported skip)", what,
                   options_.target_rdb_version);
      ++keys_skipped_;
      return rdb::AccessLevel::kSkip;
    case OnUnsupported::kDropFieldTtl:
      if (field_ttl_hash) return rdb::AccessLevel::kData;
      [[fallthrough]];
    case OnUnsupported::kFail:
      if (key.kind == rdb::TypeKind::kModulePreGa || key.kind == rdb::TypeKind::kModule2 ||
          key.kind == rdb::TypeKind::kUnsupported) {
        SetError(Error{make_error_code(SyncErrc::kUnsupportedData),
                       "the target cannot hold the " + what +
                           "; rerun with --on-unsupported skip to leave such keys behind"});
        return rdb::AccessLevel::kSkip;
      }
      if (field_ttl_hash) {
        SetError(Error{make_error_code(SyncErrc::kUnsupportedData),
                       "the " + what + " has per-field TTLs, which the target (RDB " +
                           std::to_string(options_.target_rdb_version) +
                           ") cannot hold; rerun with --on-unsupported drop-field-ttl to copy "
                           "such hashes without their field TTLs, or skip to leave them"});
        return rdb::AccessLevel::kSkip;
      }
      return rdb::AccessLevel::kData;  // re-encode for the target's version
  }
  return rdb::AccessLevel::kData;
}

void SnapshotSink::Submit(int db, ByteView key, Bytes command, const char* what) {
  if (error_) return;
  target::WriteOp op;
  op.db = db;
  op.command = std::move(command);
  op.description = std::string(what) + " " + KeyLabel(key, db);
  auto r = lanes_->Submit(lanes_->LaneFor(db, key), std::move(op));
  if (!r) SetError(std::move(r).error());
}

void SnapshotSink::SubmitRestore(int db, const rdb::KeyInfo& key, ByteView serialized,
                                 int footer_version) {
  if (error_) return;
  size_t lane = lanes_->LaneFor(db, key.key);
  Bytes* out = lanes_->Begin(lane, serialized.size() + key.key.size() + kRestoreOverhead);
  AppendRestore(out, key.key, serialized, footer_version, key.expire_ms, key.idle_s, key.freq);
  // No description: the lanes describe the op from its bytes as "RESTORE <key> (db N)",
  // the same words KeyLabel gives, only when it fails.
  auto r = lanes_->End(lane, db, 1, std::string());
  if (!r) SetError(std::move(r).error());
}

bool SnapshotSink::AddToMset(int db, size_t lane, ByteView key, ByteView raw) {
  if (msets_.size() <= lane) msets_.resize(lane + 1);
  PendingMset& m = msets_[lane];
  if (m.count > 0 && m.db != db) FlushMset(lane);
  size_t at = m.pairs.size();
  AppendBulk(&m.pairs, key);
  if (!AppendRawStringBulk(&m.pairs, raw)) {
    m.pairs.resize(at);
    return false;
  }
  if (m.count == 0) {
    m.db = db;
    m.first_key.assign(key.begin(), key.end());
  }
  ++m.count;
  if (m.count >= options_.mset_pairs || m.pairs.size() >= kMsetBytes) FlushMset(lane);
  return true;
}

void SnapshotSink::FlushMset(size_t lane) {
  PendingMset& m = msets_[lane];
  if (m.count == 0) return;
  if (!error_) {
    Bytes* out = lanes_->Begin(lane, m.pairs.size() + 32);
    Append(out, "*");
    AppendInt(out, 1 + 2 * static_cast<int64_t>(m.count));
    Append(out, "\r\n$4\r\nMSET\r\n");
    Append(out, AsStringView(ByteView(m.pairs)));
    std::string what =
        m.count == 1 ? "MSET" : "MSET of " + std::to_string(m.count) + " strings, the first";
    auto r = lanes_->End(lane, m.db, 1, what + " " + KeyLabel(ByteView(m.first_key), m.db));
    if (!r) SetError(std::move(r).error());
  }
  m.count = 0;
  m.pairs.clear();
}

void SnapshotSink::Flush() {
  for (size_t lane = 0; lane < msets_.size(); ++lane) FlushMset(lane);
}

void SnapshotSink::OnEof(const rdb::EofInfo&) { Flush(); }

void SnapshotSink::OnRawValue(const rdb::KeyInfo& key, ByteView part, bool last) {
  if (error_) return;
  int db = key_db_;
  bool first = !value_started_;
  value_started_ = true;
  if (first && last) {  // the common case: a whole small value in one part
    if (key.kind == rdb::TypeKind::kString && options_.mset_pairs > 0 && key.expire_ms <= 0 &&
        key.idle_s < 0 && key.freq < 0 && part.size() <= kMsetValueBytes &&
        AddToMset(db, lanes_->LaneFor(db, key.key), key.key, part)) {
      ++keys_written_;
      return;
    }
    SubmitRestore(db, key, part, footer_version_);
    ++keys_written_;
    return;
  }
  if (first) {
    // The nested reader hands over decoded parts of about chunk_bytes: a big value is
    // never decoded further ahead than one chunked command or so.
    nested_ = std::make_unique<NestedDecoder>(this, format_, db, key.key, key.expire_ms,
                                              options_.chunk_bytes);
    ++keys_chunked_;
  }
  auto fed = nested_->Feed(part, first, last);
  if (!fed) {
    SetError(Error{fed.error().code, "decoding the big value of key " + KeyLabel(key.key, db) +
                                         " failed: " + fed.error().ToString()});
  }
  if (last) {
    nested_.reset();
    ++keys_written_;
  }
}

void SnapshotSink::OnValue(const rdb::KeyInfo& key, rdb::Value& part, bool last) {
  if (error_) return;
  int db = key_db_;
  bool first = !value_started_;
  value_started_ = true;
  if (first && last) {  // small value: re-encode for the target's RDB version
    rdb::EncodeOptions enc;
    enc.drop_field_ttls = options_.on_unsupported == OnUnsupported::kDropFieldTtl;
    auto payload = rdb::EncodeDumpPayload(part, options_.target_rdb_version, enc);
    if (!payload) {
      SetError(Error{payload.error().code, "cannot write key " + KeyLabel(key.key, db) +
                                               " for the target: " + payload.error().ToString()});
      return;
    }
    ByteView body = ByteView(*payload).first(payload->size() - 10);
    SubmitRestore(db, key, body, options_.target_rdb_version);
    ++keys_written_;
    return;
  }
  if (first) ++keys_chunked_;
  WriteValuePart(db, key.key, key.expire_ms, key.string_length, part, first, last);
  if (last) ++keys_written_;
}

void SnapshotSink::SubmitArgs(int db, ByteView key, const std::vector<std::string>& args) {
  if (error_) return;
  size_t lane = lanes_->LaneFor(db, key);
  auto digits = [](size_t v) {
    size_t n = 1;
    while (v >= 10) v /= 10, ++n;
    return n;
  };
  size_t size = 3 + digits(args.size());  // the exact size: no over-reserving
  for (const auto& a : args) size += 5 + digits(a.size()) + a.size();
  Bytes* out = lanes_->Begin(lane, size);
  out->push_back('*');
  AppendInt(out, static_cast<int64_t>(args.size()));
  out->push_back('\r');
  out->push_back('\n');
  for (const auto& a : args) AppendBulk(out, std::string_view(a));
  // Described from its bytes when it fails: "RPUSH <key> (db N)".
  auto r = lanes_->End(lane, db, 1, std::string());
  if (!r) SetError(std::move(r).error());
}

void SnapshotSink::SubmitSetRange(int db, ByteView key, uint64_t offset, ByteView piece) {
  if (error_) return;
  size_t lane = lanes_->LaneFor(db, key);
  Bytes* out = lanes_->Begin(lane, key.size() + piece.size() + 64);
  static constexpr std::string_view kSetRange = "*4\r\n$8\r\nSETRANGE\r\n";
  out->insert(out->end(), kSetRange.begin(), kSetRange.end());
  AppendBulk(out, key);
  AppendBulkInt(out, static_cast<int64_t>(offset));
  AppendBulk(out, piece);
  // Described from its bytes when it fails: "SETRANGE <key> (db N)".
  auto r = lanes_->End(lane, db, 1, std::string());
  if (!r) SetError(std::move(r).error());
}

void SnapshotSink::WriteStringPart(int db, ByteView key, uint64_t length, const std::string& piece,
                                   bool first, bool last) {
  std::string_view k = AsStringView(key);
  if (first && last) {  // a string delivered whole (just over the threshold)
    Submit(db, key, resp::EncodeCommand({"SET", k, piece}), "SET");
    return;
  }
  if (first) {
    // DEL, then one SETRANGE at the last byte: the target allocates the whole string once
    // (zero-filled), and every piece is then copied in place. APPENDs would grow it piece
    // by piece, and a growth may copy the whole string (docs/sync.md has the numbers).
    Submit(db, key, resp::EncodeCommand({"DEL", k}), "DEL");
    if (length > 0) SubmitSetRange(db, key, length - 1, AsBytes(std::string_view("\0", 1)));
    string_offset_ = 0;
  }
  if (!piece.empty()) SubmitSetRange(db, key, string_offset_, AsBytes(piece));
  string_offset_ += piece.size();  // the reader's pieces add up to `length`
}

void SnapshotSink::WriteValuePart(int db, ByteView key, int64_t expire_ms, uint64_t string_length,
                                  rdb::Value& part, bool first, bool last) {
  std::string_view k = AsStringView(key);
  if (part.type == rdb::ValueType::kString) {
    WriteStringPart(db, key, string_length, part.str, first, last);
    if (last && expire_ms > 0) {
      Submit(db, key, resp::EncodeCommand({"PEXPIREAT", k, std::to_string(expire_ms)}),
             "PEXPIREAT");
    }
    return;
  }
  if (first) Submit(db, key, resp::EncodeCommand({"DEL", k}), "DEL");
  std::vector<std::string> args;
  size_t bytes = 0;
  auto flush = [&] {
    if (args.size() <= 2) return;
    SubmitArgs(db, key, args);
    args.resize(2);  // keep command name and key
    bytes = 0;
  };
  auto start = [&](const char* name) {
    args.clear();
    args.emplace_back(name);
    args.emplace_back(k);
  };
  auto full = [&] {
    return (args.size() - 2) >= options_.chunk_elements || bytes >= options_.chunk_bytes;
  };
  switch (part.type) {
    case rdb::ValueType::kString:
      break;  // written above
    case rdb::ValueType::kList:
      start("RPUSH");
      for (auto& e : part.elements) {
        bytes += e.size();
        args.push_back(std::move(e));
        if (full()) flush();
      }
      flush();
      break;
    case rdb::ValueType::kSet:
      start("SADD");
      for (auto& e : part.elements) {
        bytes += e.size();
        args.push_back(std::move(e));
        if (full()) flush();
      }
      flush();
      break;
    case rdb::ValueType::kZset:
      start("ZADD");
      for (auto& e : part.zset) {
        bytes += e.member.size() + 24;
        args.push_back(rdb::FormatScore(e.score));  // %.17g: ZADD reads back the same double
        args.push_back(std::move(e.member));
        if (full()) flush();
      }
      flush();
      break;
    case rdb::ValueType::kHash:
      start("HSET");
      for (auto& f : part.hash) {
        bytes += f.field.size() + f.value.size();
        args.push_back(std::move(f.field));
        args.push_back(std::move(f.value));
        if (full()) flush();
      }
      flush();
      break;
    case rdb::ValueType::kStream: {
      for (auto& entry : part.stream.entries) {
        start("XADD");
        args.push_back(entry.id.ToString());
        for (auto& [field, value] : entry.fields) {
          args.push_back(std::move(field));
          args.push_back(std::move(value));
        }
        flush();
      }
      if (last) {
        const auto& s = part.stream;
        std::vector<std::string> setid = {"XSETID", std::string(k), s.last_id.ToString()};
        if (s.has_v2_metadata) {
          setid.insert(setid.end(), {"ENTRIESADDED", std::to_string(s.entries_added),
                                     "MAXDELETEDID", s.max_deleted_id.ToString()});
        }
        Submit(db, key, EncodeArgs(setid), "XSETID");
        for (const auto& g : s.groups) {
          std::vector<std::string> create = {"XGROUP", "CREATE", std::string(k), g.name,
                                             g.last_delivered_id.ToString()};
          if (g.entries_read >= 0) {
            create.insert(create.end(), {"ENTRIESREAD", std::to_string(g.entries_read)});
          }
          Submit(db, key, EncodeArgs(create), "XGROUP CREATE");
          for (const auto& c : g.consumers) {
            Submit(db, key, resp::EncodeCommand({"XGROUP", "CREATECONSUMER", k, g.name, c.name}),
                   "XGROUP CREATECONSUMER");
          }
          for (const auto& p : g.pel) {
            Submit(db, key,
                   resp::EncodeCommand({"XCLAIM", k, g.name, p.consumer, "0", p.id.ToString(),
                                        "TIME", std::to_string(p.delivery_time_ms), "RETRYCOUNT",
                                        std::to_string(p.delivery_count), "FORCE", "JUSTID"}),
                   "XCLAIM");
          }
        }
      }
      break;
    }
    case rdb::ValueType::kModule:
      SetError(Error{make_error_code(SyncErrc::kUnsupportedData),
                     "module value of key " + KeyLabel(key, db) +
                         " is too big to pass through; raise --big-key-threshold"});
      return;
  }
  if (last && expire_ms > 0) {
    Submit(db, key, resp::EncodeCommand({"PEXPIREAT", k, std::to_string(expire_ms)}), "PEXPIREAT");
  }
}

}  // namespace kf::sync
