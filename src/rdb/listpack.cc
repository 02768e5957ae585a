// Listpack entry decoding (see listpack.h for the layout).
#include "rdb/listpack.h"

#include "rdb/rdb_errc.h"

namespace kf::rdb {
namespace {

uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// Bytes the backlen of an entry of `len` bytes (encoding + data) takes.
size_t BacklenSize(uint64_t len) {
  if (len <= 127) return 1;
  if (len < 16383) return 2;
  if (len < 2097151) return 3;
  if (len < 268435455) return 4;
  return 5;
}

}  // namespace

Result<ListpackReader> ListpackReader::Open(ByteView blob) {
  if (blob.size() < 7) {
    return MakeError(RdbErrc::kCorrupt, "listpack of " + std::to_string(blob.size()) +
                                            " bytes is below the 7-byte minimum");
  }
  uint32_t total = Le32(blob.data());
  if (total != blob.size()) {
    return MakeError(RdbErrc::kCorrupt, "listpack header says " + std::to_string(total) +
                                            " bytes but the blob has " +
                                            std::to_string(blob.size()));
  }
  if (blob[blob.size() - 1] != 0xFF) {
    return MakeError(RdbErrc::kCorrupt, "listpack does not end with the 0xFF terminator");
  }
  uint32_t count = uint32_t{blob[4]} | uint32_t{blob[5]} << 8;
  return ListpackReader(blob.data(), blob.data() + 6, blob.data() + blob.size() - 1, count);
}

bool ListpackReader::Fail(const char* what) {
  error_ = std::string("listpack entry ") + std::to_string(index_) + " at byte " +
           std::to_string(p_ - begin_) + ": " + what;
  p_ = end_;
  return false;
}

bool ListpackReader::Next(PackedEntry* e) {
  if (p_ >= end_) {
    if (header_count_ != 65535 && index_ != header_count_ && error_.empty()) {
      return Fail("entry count differs from the header");
    }
    return false;
  }
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
    uint64_t len = Le32(p + 1);
    enc_len = 5 + len;
    if (enc_len > avail) return Fail("string runs past the end");
    e->str = std::string_view(reinterpret_cast<const char*>(p + 5), len);
  } else if (b >= 0xF1 && b <= 0xF4) {
    static constexpr int kBytes[] = {2, 3, 4, 8};
    int n = kBytes[b - 0xF1];
    enc_len = 1 + static_cast<uint64_t>(n);
    if (enc_len > avail) return Fail("integer runs past the end");
    uint64_t u = 0;
    for (int i = 0; i < n; ++i) u |= uint64_t{p[1 + i]} << (8 * i);
    // Sign-extend from n bytes.
    if (n < 8 && (u >> (8 * n - 1)) & 1) u |= ~uint64_t{0} << (8 * n);
    e->is_int = true;
    e->int_value = static_cast<int64_t>(u);
  } else {
    return Fail("invalid encoding byte");
  }
  size_t bl = BacklenSize(enc_len);
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
