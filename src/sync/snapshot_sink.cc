// SnapshotSink: RESTORE pass-through, re-encoding and chunked commands for big values.
// The bytes on the wire come from resp/ (commands, bulk strings) and rdb/ (DUMP payloads,
// string values); this file only composes them into the lanes' buffers.
#include "sync/snapshot_sink.h"

#include <spdlog/spdlog.h>

#include <span>

#include "common/clock.h"
#include "rdb/canonical.h"
#include "rdb/encoder.h"
#include "rdb/rdb_format.h"
#include "rdb/string_value.h"
#include "resp/encoder.h"
#include "sync/sync_errc.h"

namespace kf::sync {
namespace {

std::string KeyLabel(ByteView key, int db) {
  return Printable(key, 80) + " (db " + std::to_string(db) + ")";
}

// Strings whose serialized form is bigger than this go as RESTORE (batching them saves
// little, and decoding would copy them).
constexpr size_t kMsetValueBytes = 16 * 1024;
// The most a string gathered into an MSET may take decoded (an LZF string of at most
// kMsetValueBytes may announce more; one bigger than this goes as RESTORE).
constexpr size_t kMsetDecodedBytes = kMsetValueBytes * 64;
// Bytes of pairs after which a pending MSET is written.
constexpr size_t kMsetBytes = 64 * 1024;

// Appends a serialized plain string (type byte 0, then an RDB string: raw, int-encoded or
// LZF) to *out as a RESP bulk string, decoded straight into place. False for anything
// else, anything malformed or anything over kMsetDecodedBytes, with *out as it was.
bool AppendStringValueBulk(Bytes* out, ByteView raw) {
  rdb::SerializedString value;
  if (!rdb::ParseSerializedString(raw, &value) || value.length > kMsetDecodedBytes) return false;
  size_t at = out->size();
  size_t length = static_cast<size_t>(value.length);
  uint8_t* place = resp::AppendBulkSpace(out, length);
  if (!rdb::DecodeSerializedStringInto(value, std::span<uint8_t>(place, length))) {
    out->resize(at);
    return false;
  }
  return true;
}

// Bytes RESTORE takes besides the key and the value.
constexpr size_t kRestoreOverhead = 128;

// The fixed arguments written for every key, encoded when compiling.
constexpr resp::ConstBulk kRestore("RESTORE");
constexpr resp::ConstBulk kAbsTtl("ABSTTL");
constexpr resp::ConstBulk kIdleTime("IDLETIME");
constexpr resp::ConstBulk kFreq("FREQ");
constexpr resp::ConstBulk kReplace("REPLACE");
constexpr resp::ConstBulk kMset("MSET");
constexpr resp::ConstBulk kSetRange("SETRANGE");

// A RESTORE's payload: a serialized value that gets its DUMP footer on the way (the
// source's bytes passed through: footer_version > 0), or a whole DUMP payload (a value
// re-encoded for the target: footer_version == 0).
struct RestorePayload {
  ByteView bytes;
  int footer_version = 0;
};

// Appends RESTORE key ttl payload ABSTTL [IDLETIME s | FREQ f] REPLACE to `out`, the
// payload copied once into place. Returns the offset of the key in *out; on an error
// (a payload rdb::WriteDumpPayload refuses) *out is as it was.
Result<size_t> AppendRestore(Bytes* out, ByteView key, const RestorePayload& payload,
                             int64_t expire_ms, int64_t idle_s, int freq) {
  size_t at = out->size();
  bool has_idle = idle_s >= 0;
  bool has_freq = !has_idle && freq >= 0;
  resp::AppendArrayHeader(out, has_idle || has_freq ? 8 : 6);
  resp::AppendBulk(out, kRestore);
  size_t key_at = resp::AppendBulk(out, key);
  resp::AppendBulkInt(out, expire_ms > 0 ? expire_ms : 0);
  if (payload.footer_version == 0) {
    resp::AppendBulk(out, payload.bytes);
  } else {
    size_t size = payload.bytes.size() + rdb::kDumpFooterBytes;
    uint8_t* place = resp::AppendBulkSpace(out, size);
    auto written = rdb::WriteDumpPayload(payload.bytes, payload.footer_version,
                                         std::span<uint8_t>(place, size));
    if (!written) {
      out->resize(at);
      return MakeError(std::move(written).error());
    }
  }
  resp::AppendBulk(out, kAbsTtl);
  if (has_idle) {
    resp::AppendBulk(out, kIdleTime);
    resp::AppendBulkInt(out, idle_s);
  } else if (has_freq) {
    resp::AppendBulk(out, kFreq);
    resp::AppendBulkInt(out, freq);
  }
  resp::AppendBulk(out, kReplace);
  return key_at;
}

}  // namespace

// Decodes a big RAW value while it streams: the raw parts are fed to a second RdbReader
// that reads one serialized value, whose DATA parts become chunked commands.
class SnapshotSink::NestedDecoder : public rdb::RdbSink {
 public:
  NestedDecoder(SnapshotSink* outer, const rdb::RdbFormat& format, int db, ByteView key,
                int64_t expire_ms, uint64_t big_value_bytes)
      : outer_(outer), db_(db), key_(key.begin(), key.end()), expire_ms_(expire_ms) {
    rdb::ReaderOptions options;
    options.big_value_bytes = big_value_bytes;
    reader_ = std::make_unique<rdb::RdbReader>(this, options);
    reader_->ExpectSerializedValue(format);
  }

  Result<void> Feed(ByteView part, bool last) {
    KF_RETURN_IF_ERROR(reader_->Feed(part));
    if (last) return reader_->Finish();
    return {};
  }

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

void SnapshotSink::SubmitRestore(int db, const rdb::KeyInfo& key, ByteView payload,
                                 int footer_version) {
  if (error_) return;
  size_t lane = lanes_->LaneFor(db, key.key);
  Bytes* out = lanes_->Begin(lane, payload.size() + key.key.size() + kRestoreOverhead);
  auto key_at = AppendRestore(out, key.key, RestorePayload{payload, footer_version}, key.expire_ms,
                              key.idle_s, key.freq);
  if (!key_at) {
    SetError(Error{key_at.error().code, "cannot write key " + KeyLabel(key.key, db) +
                                            " for the target: " + key_at.error().ToString()});
    return;
  }
  // Named only when it fails: "RESTORE <key> (db N)", the same words KeyLabel gives.
  auto r = lanes_->End(lane, db, 1, target::OpLabel{"RESTORE", *key_at, key.key.size()});
  if (!r) SetError(std::move(r).error());
}

bool SnapshotSink::AddToMset(int db, size_t lane, ByteView key, ByteView raw) {
  if (msets_.size() <= lane) msets_.resize(lane + 1);
  PendingMset& m = msets_[lane];
  if (m.count > 0 && m.db != db) FlushMset(lane);
  size_t at = m.pairs.size();
  resp::AppendBulk(&m.pairs, key);
  if (!AppendStringValueBulk(&m.pairs, raw)) {
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
    resp::AppendArrayHeader(out, 1 + 2 * static_cast<size_t>(m.count));
    resp::AppendBulk(out, kMset);
    out->insert(out->end(), m.pairs.begin(), m.pairs.end());  // the pairs, already bulk strings
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
  auto fed = nested_->Feed(part, last);
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
    SubmitRestore(db, key, ByteView(*payload), /*footer_version=*/0);  // a whole payload
    ++keys_written_;
    return;
  }
  if (first) ++keys_chunked_;
  WriteValuePart(db, key.key, key.expire_ms, key.string_length, part, first, last);
  if (last) ++keys_written_;
}

void SnapshotSink::SubmitArgs(int db, ByteView key, const char* command,
                              const std::vector<std::string>& args) {
  if (error_) return;
  size_t lane = lanes_->LaneFor(db, key);
  Bytes* out = lanes_->Begin(lane, resp::CommandSize(args));  // the exact size
  resp::AppendArrayHeader(out, args.size());
  size_t key_at = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    size_t at = resp::AppendBulk(out, args[i]);
    if (i == 1) key_at = at;
  }
  // Named only when it fails: "RPUSH <key> (db N)".
  auto r = lanes_->End(lane, db, 1, target::OpLabel{command, key_at, key.size()});
  if (!r) SetError(std::move(r).error());
}

void SnapshotSink::SubmitSetRange(int db, ByteView key, uint64_t offset, ByteView piece) {
  if (error_) return;
  size_t lane = lanes_->LaneFor(db, key);
  Bytes* out = lanes_->Begin(lane, key.size() + piece.size() + 64);
  resp::AppendArrayHeader(out, 4);
  resp::AppendBulk(out, kSetRange);
  size_t key_at = resp::AppendBulk(out, key);
  resp::AppendBulkInt(out, static_cast<int64_t>(offset));
  resp::AppendBulk(out, piece);
  // Named only when it fails: "SETRANGE <key> (db N)".
  auto r = lanes_->End(lane, db, 1, target::OpLabel{"SETRANGE", key_at, key.size()});
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
  const char* command = nullptr;  // args[0], for the op's label
  size_t bytes = 0;
  auto flush = [&] {
    if (args.size() <= 2) return;
    SubmitArgs(db, key, command, args);
    args.resize(2);  // keep command name and key
    bytes = 0;
  };
  auto start = [&](const char* name) {
    command = name;
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
        Submit(db, key, resp::EncodeCommand(setid), "XSETID");
        for (const auto& g : s.groups) {
          std::vector<std::string> create = {"XGROUP", "CREATE", std::string(k), g.name,
                                             g.last_delivered_id.ToString()};
          if (g.entries_read >= 0) {
            create.insert(create.end(), {"ENTRIESREAD", std::to_string(g.entries_read)});
          }
          Submit(db, key, resp::EncodeCommand(create), "XGROUP CREATE");
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
