// Reader throughput on a generated RDB file of >= 512 MB (KF_BENCH_RDB_MB to change it).
//
// The file is written once by the generator below (its own writer of the RDB 11 format:
// strings raw / int / LZF, quicklist v2 lists, listpack and intset sets, listpack and
// skiplist zsets, listpack and hashtable hashes, millisecond expiries, CRC64) into
// $TMPDIR/keyferry-bench-<MB>mb.rdb and reused while its size matches. Each benchmark
// streams the file in 1 MiB chunks through the reader at one access level and reports
// bytes/second. `rdb_reader_bench --write-rdb=PATH [--mb=N]` only writes the file (used by
// rdb_inspect_vs_check_rdb.sh).
#include <benchmark/benchmark.h>
#include <lzf.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "rdb/crc64.h"
#include "rdb/reader.h"

namespace {

using kf::ByteView;
using namespace kf::rdb;

// ---- generator ----

class RdbFileWriter {
 public:
  explicit RdbFileWriter(const std::string& path) : f_(std::fopen(path.c_str(), "wb")) {
    if (!f_) {
      std::perror(path.c_str());
      std::exit(2);
    }
  }
  void Put(std::string_view s) {
    buf_.append(s);
    if (buf_.size() >= (1 << 20)) Flush();
  }
  void Byte(uint8_t b) { buf_.push_back(static_cast<char>(b)); }
  void Len(uint64_t n) {
    if (n < 64) {
      Byte(static_cast<uint8_t>(n));
    } else if (n < 16384) {
      Byte(static_cast<uint8_t>(0x40 | (n >> 8)));
      Byte(static_cast<uint8_t>(n & 0xff));
    } else {
      Byte(0x80);
      for (int i = 3; i >= 0; --i) Byte(static_cast<uint8_t>((n >> (8 * i)) & 0xff));
    }
  }
  void Le(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) Byte(static_cast<uint8_t>((v >> (8 * i)) & 0xff));
  }
  // A string as Redis saves it: int-encoded when it is a small integer, LZF when that
  // saves space (strings over 20 bytes), raw otherwise.
  void String(std::string_view s) {
    if (!s.empty() && s.size() <= 11) {
      char* end = nullptr;
      std::string tmp(s);
      long long v = std::strtoll(tmp.c_str(), &end, 10);
      if (*end == '\0' && std::to_string(v) == tmp && v >= INT32_MIN && v <= INT32_MAX) {
        if (v >= -128 && v <= 127) {
          Byte(0xC0);
          Le(static_cast<uint64_t>(v), 1);
        } else if (v >= -32768 && v <= 32767) {
          Byte(0xC1);
          Le(static_cast<uint64_t>(v), 2);
        } else {
          Byte(0xC2);
          Le(static_cast<uint64_t>(v), 4);
        }
        return;
      }
    }
    if (s.size() > 20) {
      lzf_.resize(s.size());
      unsigned n = lzf_compress(s.data(), static_cast<unsigned>(s.size()), lzf_.data(),
                                static_cast<unsigned>(s.size() - 4));
      if (n > 0) {
        Byte(0xC3);
        Len(n);
        Len(s.size());
        Put(std::string_view(lzf_.data(), n));
        return;
      }
    }
    Len(s.size());
    Put(s);
  }
  void Flush() {
    crc_ = Crc64(crc_, kf::AsBytes(buf_));
    written_ += buf_.size();
    std::fwrite(buf_.data(), 1, buf_.size(), f_);
    buf_.clear();
  }
  void Close() {
    Byte(0xFF);
    Flush();
    std::string c;
    for (int i = 0; i < 8; ++i) c.push_back(static_cast<char>((crc_ >> (8 * i)) & 0xff));
    std::fwrite(c.data(), 1, 8, f_);
    written_ += 8;
    std::fclose(f_);
  }
  uint64_t written() const { return written_ + buf_.size(); }

 private:
  std::FILE* f_;
  std::string buf_;
  std::vector<char> lzf_;
  uint64_t crc_ = 0;
  uint64_t written_ = 0;
};

class ListpackBuilder {
 public:
  void Add(std::string_view s) {
    size_t before = body_.size();
    if (s.size() < 64) {
      body_.push_back(static_cast<char>(0x80 | s.size()));
    } else if (s.size() < 4096) {
      body_.push_back(static_cast<char>(0xE0 | (s.size() >> 8)));
      body_.push_back(static_cast<char>(s.size() & 0xff));
    } else {
      body_.push_back(static_cast<char>(0xF0));
      for (int i = 0; i < 4; ++i) body_.push_back(static_cast<char>((s.size() >> (8 * i)) & 0xff));
    }
    body_.append(s);
    Backlen(body_.size() - before);
    ++count_;
  }
  void AddInt(int64_t v) {  // 0..127 or 13-bit
    size_t before = body_.size();
    if (v >= 0 && v <= 127) {
      body_.push_back(static_cast<char>(v));
    } else {
      uint64_t u = static_cast<uint64_t>(v) & 0x1FFF;
      body_.push_back(static_cast<char>(0xC0 | (u >> 8)));
      body_.push_back(static_cast<char>(u & 0xff));
    }
    Backlen(body_.size() - before);
    ++count_;
  }
  std::string Finish() const {
    std::string out;
    uint64_t total = 6 + body_.size() + 1;
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((total >> (8 * i)) & 0xff));
    uint64_t n = count_ < 65535 ? count_ : 65535;
    out.push_back(static_cast<char>(n & 0xff));
    out.push_back(static_cast<char>(n >> 8));
    out += body_;
    out.push_back(static_cast<char>(0xFF));
    return out;
  }

 private:
  void Backlen(size_t l) {
    if (l <= 127) {
      body_.push_back(static_cast<char>(l));
    } else if (l < 16383) {
      body_.push_back(static_cast<char>(l >> 7));
      body_.push_back(static_cast<char>((l & 127) | 128));
    } else {
      body_.push_back(static_cast<char>(l >> 14));
      body_.push_back(static_cast<char>(((l >> 7) & 127) | 128));
      body_.push_back(static_cast<char>((l & 127) | 128));
    }
  }
  std::string body_;
  uint64_t count_ = 0;
};

std::string Word(std::mt19937_64& rng, size_t len) {
  static constexpr char kAlpha[] = "abcdefghijklmnopqrstuvwxyz0123456789:_-";
  std::string s(len, ' ');
  // Half random, half repetitive so LZF finds something.
  for (size_t i = 0; i < len; ++i) s[i] = (i % 16 < 8) ? kAlpha[rng() % 39] : 'x';
  return s;
}

void WriteBenchRdb(const std::string& path, uint64_t target_bytes) {
  RdbFileWriter w(path);
  std::mt19937_64 rng(12345);
  w.Put("REDIS0011");
  w.Byte(kOpAux);
  w.String("redis-ver");
  w.String("7.2.4");
  w.Byte(kOpSelectDb);
  w.Len(0);
  uint64_t n = 0;
  while (w.written() < target_bytes) {
    ++n;
    std::string key = "key:" + std::to_string(n);
    if (rng() % 10 == 0) {
      w.Byte(kOpExpireTimeMs);
      w.Le(1800000000000ULL + n, 8);
    }
    unsigned pick = static_cast<unsigned>(rng() % 1000);
    if (pick < 350) {  // strings
      w.Byte(kTypeString);
      w.String(key);
      w.String(Word(rng, 10 + rng() % 300));
    } else if (pick < 450) {  // integer strings
      w.Byte(kTypeString);
      w.String(key);
      w.String(std::to_string(rng() % 100000));
    } else if (pick < 600) {  // small hashes
      ListpackBuilder lp;
      int fields = 5 + static_cast<int>(rng() % 20);
      for (int i = 0; i < fields; ++i) {
        lp.Add("field" + std::to_string(i));
        lp.Add(Word(rng, 5 + rng() % 40));
      }
      w.Byte(kTypeHashListpack);
      w.String(key);
      w.String(lp.Finish());
    } else if (pick < 700) {  // lists
      uint64_t nodes = 1 + rng() % 3;
      w.Byte(kTypeListQuicklist2);
      w.String(key);
      w.Len(nodes);
      for (uint64_t k = 0; k < nodes; ++k) {
        ListpackBuilder lp;
        int items = 10 + static_cast<int>(rng() % 118);
        for (int i = 0; i < items; ++i) lp.Add(Word(rng, 4 + rng() % 40));
        w.Len(kQuicklistNodePacked);
        w.String(lp.Finish());
      }
    } else if (pick < 800) {  // sets
      bool listpack = rng() % 2 == 0;
      w.Byte(listpack ? kTypeSetListpack : kTypeSetIntset);
      w.String(key);
      int members = 5 + static_cast<int>(rng() % 100);
      std::string blob;
      if (listpack) {
        ListpackBuilder lp;
        for (int i = 0; i < members; ++i) lp.Add("m" + std::to_string(i) + Word(rng, 6));
        blob = lp.Finish();
      } else {
        blob.assign("\x04\x00\x00\x00", 4);
        for (int i = 0; i < 4; ++i) blob.push_back(static_cast<char>((members >> (8 * i)) & 0xff));
        for (int i = 0; i < members; ++i) {
          uint32_t v = static_cast<uint32_t>(i * 1000 + 7);
          for (int b = 0; b < 4; ++b) blob.push_back(static_cast<char>((v >> (8 * b)) & 0xff));
        }
      }
      w.String(blob);
    } else if (pick < 900) {  // small zsets
      ListpackBuilder lp;
      int members = 5 + static_cast<int>(rng() % 60);
      for (int i = 0; i < members; ++i) {
        lp.Add("member" + std::to_string(i));
        lp.AddInt(i * 3);
      }
      w.Byte(kTypeZsetListpack);
      w.String(key);
      w.String(lp.Finish());
    } else if (pick < 990) {  // medium strings
      w.Byte(kTypeString);
      w.String(key);
      w.String(Word(rng, 1000 + rng() % 8000));
    } else {  // big values
      switch (rng() % 3) {
        case 0: {
          w.Byte(kTypeHash);
          w.String(key);
          w.Len(2000);
          for (int i = 0; i < 2000; ++i) {
            w.String("f" + std::to_string(i));
            w.String(Word(rng, 20 + rng() % 100));
          }
          break;
        }
        case 1: {
          w.Byte(kTypeZset2);
          w.String(key);
          w.Len(2000);
          for (int i = 0; i < 2000; ++i) {
            w.String("m" + std::to_string(i) + Word(rng, 8));
            double d = static_cast<double>(rng() % 1000000) / 7.0;
            uint64_t bits;
            std::memcpy(&bits, &d, 8);
            w.Le(bits, 8);
          }
          break;
        }
        default: {
          w.Byte(kTypeString);
          w.String(key);
          w.String(Word(rng, 1 << 20));
          break;
        }
      }
    }
  }
  w.Close();
}

uint64_t BenchMb() {
  const char* env = std::getenv("KF_BENCH_RDB_MB");
  return env ? std::strtoull(env, nullptr, 10) : 512;
}

const std::string& BenchFile() {
  static const std::string path = [] {
    uint64_t mb = BenchMb();
    std::string p = (std::filesystem::temp_directory_path() /
                     ("keyferry-bench-" + std::to_string(mb) + "mb.rdb"))
                        .string();
    std::error_code ec;
    auto size = std::filesystem::file_size(p, ec);
    if (ec || size < mb << 20) {
      std::fprintf(stderr, "writing %s (%llu MB)...\n", p.c_str(),
                   static_cast<unsigned long long>(mb));
      WriteBenchRdb(p, mb << 20);
    }
    return p;
  }();
  return path;
}

class LevelSink : public RdbSink {
 public:
  explicit LevelSink(AccessLevel level) : level_(level) {}
  AccessLevel OnKey(const KeyInfo&) override { return level_; }
  void OnRawValue(const KeyInfo&, ByteView part, bool) override { bytes_ += part.size(); }
  void OnValue(const KeyInfo&, Value& v, bool) override {
    bytes_ += v.elements.size() + v.hash.size() + v.zset.size() + v.str.size();
  }
  uint64_t bytes() const { return bytes_; }

 private:
  AccessLevel level_;
  uint64_t bytes_ = 0;
};

void ReadFileAt(benchmark::State& state, AccessLevel level) {
  const std::string& path = BenchFile();
  std::vector<uint8_t> buf(1 << 20);
  uint64_t total = 0;
  for (auto _ : state) {
    LevelSink sink(level);
    RdbReader reader(&sink);
    std::FILE* f = std::fopen(path.c_str(), "rb");
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
      if (!reader.Feed(ByteView(buf.data(), n))) {
        state.SkipWithError("reader error");
        break;
      }
      total += n;
    }
    std::fclose(f);
    auto fin = reader.Finish();
    if (!fin) state.SkipWithError(fin.error().message.c_str());
    benchmark::DoNotOptimize(sink.bytes());
  }
  state.SetBytesProcessed(static_cast<int64_t>(total));
}

void BM_ReadSkip(benchmark::State& state) { ReadFileAt(state, AccessLevel::kSkip); }
void BM_ReadRaw(benchmark::State& state) { ReadFileAt(state, AccessLevel::kRaw); }
void BM_ReadData(benchmark::State& state) { ReadFileAt(state, AccessLevel::kData); }
BENCHMARK(BM_ReadSkip)->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_ReadRaw)->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_ReadData)->Unit(benchmark::kMillisecond)->Iterations(2);

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--write-rdb=", 12) == 0) {
      uint64_t mb = BenchMb();
      for (int j = 1; j < argc; ++j) {
        if (std::strncmp(argv[j], "--mb=", 5) == 0) mb = std::strtoull(argv[j] + 5, nullptr, 10);
      }
      WriteBenchRdb(argv[i] + 12, mb << 20);
      return 0;
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
