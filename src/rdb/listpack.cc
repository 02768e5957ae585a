// Listpack entry decoding (see listpack.h for the layout).
#include "rdb/listpack.h"

#include "rdb/rdb_errc.h"
#include "rdb/rdb_format.h"

namespace kf::rdb {

size_t ListpackBacklenSize(uint64_t entry_bytes) {
  if (entry_bytes <= 127) return 1;
  if (entry_bytes < 16383) return 2;
  if (entry_bytes < 2097151) return 3;
  if (entry_bytes < 268435455) return 4;
  return 5;
}

Result<ListpackReader> ListpackReader::Open(ByteView blob) {
  auto frame = CheckPackedBlobFrame(blob, "listpack", 7);
  if (!frame) return MakeError(std::move(frame).error());
  uint32_t count = uint32_t{blob[4]} | uint32_t{blob[5]} << 8;
  return ListpackReader(blob.data(), blob.data() + 6, blob.data() + blob.size() - 1, count);
}

bool ListpackReader::Next(PackedEntry* e) {
  if (p_ >= end_) return EndOfEntries(header_count_);
  const uint8_t* p = p_;
  size_t avail = static_cast<size_t>(end_ - p);
  uint8_t b = p[0];
  uint64_t enc_len;  // encoding byte(s) + data
  e->is_int = false;
  if ((b & 0x80) == 0) {
    e->is_int = true;
    e->int_value = b & 0x7F;
    enc_len = 1;
  } else if ((b & 0xC0) == 0x80) {
    uint64_t len = b & 0x3F;
    enc_len = 1 + len;
    if (enc_len > avail) return Fail("string runs past the end");
    e->str = std::string_view(reinterpret_cast<const char*>(p + 1), len);
  } else if ((b & 0xE0) == 0xC0) {
    if (avail < 2) return Fail("13-bit integer runs past the end");
    int64_t v = (int64_t{b & 0x1F} << 8) | p[1];
    if (v >= (1 << 12)) v -= (1 << 13);
    e->is_int = true;
    e->int_value = v;
    enc_len = 2;
  } else if ((b & 0xF0) == 0xE0) {
    if (avail < 2) return Fail("12-bit string length runs past the end");
    uint64_t len = (static_cast<uint64_t>(b & 0x0F) << 8) | p[1];
    enc_len = 2 + len;
    if (enc_len > avail) return Fail("string runs past the end");
    e->str = std::string_view(reinterpret_cast<const char*>(p + 2), len);
  } else if (b == 0xF0) {
    if (avail < 5) return Fail("32-bit string length runs past the end");
    uint64_t len = DecodeLe32(p + 1);
    enc_len = 5 + len;
    if (enc_len > avail) return Fail("string runs past the end");
    e->str = std::string_view(reinterpret_cast<const char*>(p + 5), len);
  } else if (b >= 0xF1 && b <= 0xF4) {
    static constexpr int kBytes[] = {2, 3, 4, 8};
    int n = kBytes[b - 0xF1];
    enc_len = 1 + static_cast<uint64_t>(n);
    if (enc_len > avail) return Fail("integer runs past the end");
    e->is_int = true;
    e->int_value = DecodeLeSigned(p + 1, static_cast<size_t>(n));
  } else {
    return Fail("invalid encoding byte");
  }
  size_t bl = ListpackBacklenSize(enc_len);
  if (enc_len + bl > avail) return Fail("backlen runs past the end");
  uint64_t back = 0;
  const uint8_t* q = p + enc_len;
  for (size_t i = 0; i < bl; ++i) back = (back << 7) | (q[i] & 0x7F);
  if (back != enc_len) return Fail("backlen does not match the entry size");
  p_ = q + bl;
  ++index_;
  return true;
}

Result<uint64_t> ListpackCount(ByteView blob) {
  auto r = ListpackReader::Open(blob);
  if (!r) return MakeError(std::move(r).error());
  PackedEntry e;
  while (r->Next(&e)) {
  }
  if (!r->error().empty()) return MakeError(RdbErrc::kCorrupt, r->error());
  return r->index();
}

}  // namespace kf::rdb
