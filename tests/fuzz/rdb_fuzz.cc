// libFuzzer target for the RDB layer: the streaming reader fed in data-derived splits (at
// varying access levels and options), the DUMP-payload decoder, and the packed-encoding
// codecs run directly on the input. Any crash, sanitizer report or timeout is a bug; a
// returned error is the expected outcome for most inputs.
//
// Input layout: byte 0 = option bits, byte 1 = split seed, the rest = the data. Seeds live
// in tests/fuzz/corpus/rdb_fuzz/ (small synthetic RDB files and DUMP payloads).
#include <cstddef>
#include <cstdint>

#include "rdb/canonical.h"
#include "rdb/intset.h"
#include "rdb/listpack.h"
#include "rdb/reader.h"
#include "rdb/ziplist.h"
#include "rdb/zipmap.h"

namespace {

using kf::ByteView;
using namespace kf::rdb;

class FuzzSink : public RdbSink {
 public:
  explicit FuzzSink(uint8_t bits) : bits_(bits) {}
  AccessLevel OnKey(const KeyInfo& k) override {
    ++keys_;
    return static_cast<AccessLevel>((bits_ + keys_ + k.key.size()) % 4);
  }
  void OnValue(const KeyInfo& k, Value& v, bool last) override {
    if (last) line_ = CanonicalKeyLine(k.db, k.key, k.expire_ms, v);
  }
  void OnRawValue(const KeyInfo&, ByteView part, bool) override { raw_ += part.size(); }
  void OnStructBlob(const KeyInfo&, const StructBlob& b) override { raw_ += b.data.size(); }

 private:
  uint8_t bits_;
  uint64_t keys_ = 0;
  uint64_t raw_ = 0;
  std::string line_;
};

template <typename Reader>
void Walk(ByteView data) {
  auto r = Reader::Open(data);
  if (!r) return;
  PackedEntry e;
  int n = 0;
  while (r->Next(&e) && n++ < 100000) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint8_t bits = data[0];
  uint32_t seed = data[1] * 2654435761u + 1;
  ByteView body(data + 2, size - 2);

  ReaderOptions options;
  options.module_passthrough = (bits & 1) != 0;
  options.verify_checksum = (bits & 2) != 0;
  options.big_value_bytes = (bits & 4) ? 64 : (uint64_t{1} << 20);
  options.max_string_bytes = (bits & 8) ? 4096 : (uint64_t{1} << 24);
  FuzzSink sink(bits);
  RdbReader reader(&sink, options);
  size_t at = 0;
  bool ok = true;
  while (at < body.size() && ok) {
    seed = seed * 1103515245u + 12345u;
    size_t n = 1 + (seed >> 16) % ((bits & 16) ? 7 : 997);
    if (n > body.size() - at) n = body.size() - at;
    ok = reader.Feed(body.subspan(at, n)).has_value();
    at += n;
  }
  if (ok) (void)reader.Finish();

  (void)DecodeDumpPayload(body, options);

  switch (bits >> 5) {
    case 0:
      Walk<ListpackReader>(body);
      break;
    case 1:
      Walk<ZiplistReader>(body);
      break;
    case 2:
      Walk<ZipmapReader>(body);
      break;
    case 3:
      Walk<IntsetReader>(body);
      break;
    default:
      break;
  }
  return 0;
}
