// Header parsing, type tables and primitive decoders (see rdb_format.h).
#include "rdb/rdb_format.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "rdb/rdb_errc.h"

namespace kf::rdb {

Result<RdbFormat> ParseHeader(ByteView h) {
  if (h.size() < 9) return MakeError(RdbErrc::kTruncated, "RDB header is shorter than 9 bytes");
  auto digits = [&](size_t from, int* out) {
    int v = 0;
    for (size_t i = from; i < 9; ++i) {
      if (h[i] < '0' || h[i] > '9') return false;
      v = v * 10 + (h[i] - '0');
    }
    *out = v;
    return true;
  };
  RdbFormat f;
  if (std::memcmp(h.data(), "REDIS", 5) == 0) {
    f.magic = RdbMagic::kRedis;
    if (!digits(5, &f.version)) {
      return MakeError(RdbErrc::kBadMagic, "RDB header \"" + Printable(h.first(9)) +
                                               "\" at offset 0 has a non-numeric version");
    }
    if (f.version < 1 || f.version > 14) {
      return MakeError(RdbErrc::kUnsupportedVersion,
                       "RDB version " + std::to_string(f.version) +
                           " (header REDIS at offset 0) is not supported; this reader knows "
                           "REDIS 1..14 and VALKEY 80/81");
    }
    return f;
  }
  if (std::memcmp(h.data(), "VALKEY", 6) == 0) {
    f.magic = RdbMagic::kValkey;
    if (!digits(6, &f.version)) {
      return MakeError(RdbErrc::kBadMagic, "RDB header \"" + Printable(h.first(9)) +
                                               "\" at offset 0 has a non-numeric version");
    }
    if (f.version != 80 && f.version != 81) {
      return MakeError(RdbErrc::kUnsupportedVersion,
                       "RDB version " + std::to_string(f.version) +
                           " (header VALKEY at offset 0) is not supported; this reader knows "
                           "REDIS 1..14 and VALKEY 80/81");
    }
    return f;
  }
  return MakeError(RdbErrc::kBadMagic, "not an RDB file: header at offset 0 is \"" +
                                           Printable(h.first(9)) +
                                           "\", expected REDIS or VALKEY followed by a version");
}

Result<RdbFormat> FormatForDumpVersion(int version) {
  RdbFormat f;
  f.version = version;
  if (version >= 1 && version <= 14) {
    f.magic = RdbMagic::kRedis;
    return f;
  }
  if (version == 80 || version == 81) {
    f.magic = RdbMagic::kValkey;
    return f;
  }
  return MakeError(RdbErrc::kUnsupportedVersion,
                   "DUMP payload has RDB version " + std::to_string(version) +
                       ", which this reader does not know (REDIS 1..14, VALKEY 80/81)");
}

TypeKind ClassifyType(uint8_t type, const RdbFormat& f) {
  switch (type) {
    case kTypeString:
      return TypeKind::kString;
    case kTypeList:
      return TypeKind::kListLinked;
    case kTypeSet:
      return TypeKind::kSetPlain;
    case kTypeZset:
      return TypeKind::kZsetOld;
    case kTypeHash:
      return TypeKind::kHashPlain;
    case kTypeZset2:
      return TypeKind::kZset2;
    case kTypeModulePreGa:
      return TypeKind::kModulePreGa;
    case kTypeModule2:
      return TypeKind::kModule2;
    case kTypeHashZipmap:
      return TypeKind::kHashZipmap;
    case kTypeListZiplist:
      return TypeKind::kListZiplist;
    case kTypeSetIntset:
      return TypeKind::kSetIntset;
    case kTypeZsetZiplist:
      return TypeKind::kZsetZiplist;
    case kTypeHashZiplist:
      return TypeKind::kHashZiplist;
    case kTypeListQuicklist:
      return TypeKind::kListQuicklist;
    case kTypeStreamListpacks:
    case kTypeStreamListpacks2:
    case kTypeStreamListpacks3:
      return TypeKind::kStream;
    case kTypeHashListpack:
      return TypeKind::kHashListpack;
    case kTypeZsetListpack:
      return TypeKind::kZsetListpack;
    case kTypeListQuicklist2:
      return TypeKind::kListQuicklist2;
    case kTypeSetListpack:
      return TypeKind::kSetListpack;
    default:
      break;
  }
  if (f.IsRedisTable()) {
    switch (type) {
      case kTypeRedisHashMetadataPreGa:
      case kTypeRedisHashMetadata:
        return TypeKind::kHashMetadata;
      case kTypeRedisHashListpackExPreGa:
      case kTypeRedisHashListpackEx:
        return TypeKind::kHashListpackEx;
      default:
        // Redis 8.6+ (RDB 13/14) stream types 26+ and anything newer.
        if (type >= 26 && type <= 30 && f.version >= 13) return TypeKind::kUnsupported;
        return TypeKind::kInvalid;
    }
  }
  if (f.IsValkeyTable()) {
    if (type == kTypeValkeyHash2) return TypeKind::kUnsupported;
    if (type == 23 && f.version >= 81) return TypeKind::kUnsupported;  // path hash
  }
  return TypeKind::kInvalid;
}

std::string RdbTypeName(uint8_t type, const RdbFormat& f) {
  switch (ClassifyType(type, f)) {
    case TypeKind::kString:
      return "string";
    case TypeKind::kListLinked:
      return "list-linkedlist";
    case TypeKind::kSetPlain:
      return "set-hashtable";
    case TypeKind::kZsetOld:
      return "zset-v1";
    case TypeKind::kZset2:
      return "zset-v2";
    case TypeKind::kHashPlain:
      return "hash-hashtable";
    case TypeKind::kModulePreGa:
      return "module-pre-ga";
    case TypeKind::kModule2:
      return "module";
    case TypeKind::kHashZipmap:
      return "hash-zipmap";
    case TypeKind::kListZiplist:
      return "list-ziplist";
    case TypeKind::kSetIntset:
      return "set-intset";
    case TypeKind::kZsetZiplist:
      return "zset-ziplist";
    case TypeKind::kHashZiplist:
      return "hash-ziplist";
    case TypeKind::kListQuicklist:
      return "list-quicklist";
    case TypeKind::kStream:
      return type == kTypeStreamListpacks    ? "stream-v1"
             : type == kTypeStreamListpacks2 ? "stream-v2"
                                             : "stream-v3";
    case TypeKind::kHashListpack:
      return "hash-listpack";
    case TypeKind::kZsetListpack:
      return "zset-listpack";
    case TypeKind::kListQuicklist2:
      return "list-quicklist2";
    case TypeKind::kSetListpack:
      return "set-listpack";
    case TypeKind::kHashMetadata:
      return type == kTypeRedisHashMetadata ? "hash-metadata" : "hash-metadata-pre-ga";
    case TypeKind::kHashListpackEx:
      return type == kTypeRedisHashListpackEx ? "hash-listpack-ex" : "hash-listpack-ex-pre-ga";
    case TypeKind::kUnsupported:
    case TypeKind::kInvalid:
      break;
  }
  return "type-" + std::to_string(type);
}

bool IsOpcode(uint8_t op, const RdbFormat& f) {
  if (op >= kOpFunction2) return true;
  if (op == kOpSlotInfo) return f.version >= 11;
  return false;
}

Parse DecodeLength(const uint8_t* p, const uint8_t* end, uint64_t* value, bool* special,
                   size_t* size) {
  if (p >= end) {
    *size = 1;
    return Parse::kNeedMore;
  }
  size_t avail = static_cast<size_t>(end - p);
  uint8_t b = p[0];
  *special = false;
  switch (b >> 6) {
    case 0:
      *value = b & 0x3F;
      *size = 1;
      return Parse::kOk;
    case 1:
      *size = 2;
      if (avail < 2) return Parse::kNeedMore;
      *value = (uint64_t{b & 0x3Fu} << 8) | p[1];
      return Parse::kOk;
    case 3:
      *special = true;
      *value = b & 0x3F;
      *size = 1;
      return Parse::kOk;
    default:
      break;
  }
  if (b == 0x80) {
    *size = 5;
    if (avail < 5) return Parse::kNeedMore;
    *value = uint64_t{p[1]} << 24 | uint64_t{p[2]} << 16 | uint64_t{p[3]} << 8 | p[4];
    return Parse::kOk;
  }
  if (b == 0x81) {
    *size = 9;
    if (avail < 9) return Parse::kNeedMore;
    uint64_t v = 0;
    for (int i = 1; i <= 8; ++i) v = (v << 8) | p[i];
    *value = v;
    return Parse::kOk;
  }
  *size = 1;
  return Parse::kCorrupt;
}

uint64_t DecodeLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint32_t DecodeLe32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

int64_t DecodeLeSigned(const uint8_t* p, size_t bytes) {
  uint64_t u = 0;
  for (size_t i = 0; i < bytes; ++i) u |= uint64_t{p[i]} << (8 * i);
  if (bytes < 8 && (u >> (8 * bytes - 1)) & 1) u |= ~uint64_t{0} << (8 * bytes);
  return static_cast<int64_t>(u);
}

double DecodeBinaryDouble(const uint8_t* p) {
  uint64_t bits = DecodeLe64(p);
  double d;
  std::memcpy(&d, &bits, sizeof(d));
  return d;
}

Parse DecodeStringDouble(const uint8_t* p, const uint8_t* end, double* value, size_t* size) {
  if (p >= end) {
    *size = 1;
    return Parse::kNeedMore;
  }
  uint8_t len = p[0];
  *size = 1;
  switch (len) {
    case 253:
      *value = std::numeric_limits<double>::quiet_NaN();
      return Parse::kOk;
    case 254:
      *value = std::numeric_limits<double>::infinity();
      return Parse::kOk;
    case 255:
      *value = -std::numeric_limits<double>::infinity();
      return Parse::kOk;
    default:
      break;
  }
  *size = 1 + size_t{len};
  if (static_cast<size_t>(end - p) < *size) return Parse::kNeedMore;
  char buf[256];
  std::memcpy(buf, p + 1, len);
  buf[len] = '\0';
  char* stop = nullptr;
  double d = std::strtod(buf, &stop);
  if (len == 0 || stop != buf + len) return Parse::kCorrupt;
  *value = d;
  return Parse::kOk;
}

std::string ModuleNameFromId(uint64_t module_id) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string name(9, ' ');
  uint64_t id = module_id >> 10;
  for (int i = 8; i >= 0; --i) {
    name[static_cast<size_t>(i)] = kChars[id & 63];
    id >>= 6;
  }
  return name + " (encoding version " + std::to_string(module_id & 1023) + ")";
}

}  // namespace kf::rdb
