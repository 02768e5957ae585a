// CommandEncoder: renders commands as RESP multibulks (`*N\r\n$len\r\narg\r\n...`) into a
// scatter/gather list without copying large arguments.
//
// Headers, terminators and small arguments are copied into one owned buffer; an argument
// of at least `reference_threshold` bytes is referenced in place (the caller's memory), so
// a 100 MB value goes to writev / an asio buffer sequence without a copy. Consecutive owned
// bytes form one segment, so a pipeline of small commands is usually a single segment.
//
// Lifetime contract: referenced arguments must stay alive and unchanged until the segments
// have been written. segments() views are valid until the next Add or Clear.
// Binary-safe: arguments are byte spans, never C strings.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"

namespace kf::resp {

class CommandEncoder {
 public:
  static constexpr size_t kDefaultReferenceThreshold = 4096;

  explicit CommandEncoder(size_t reference_threshold = kDefaultReferenceThreshold)
      : threshold_(reference_threshold) {}

  // Appends one command (pipelining: call once per command, then write all segments).
  void Add(std::span<const ByteView> args);
  void Add(std::initializer_list<std::string_view> args);
  void Add(const std::vector<std::string>& args);

  // The gather list for writev / asio::write. Rebuilt lazily after Add.
  std::span<const ByteView> segments() const;
  // Total bytes across all segments.
  size_t size() const { return size_; }
  size_t command_count() const { return commands_; }
  bool empty() const { return commands_ == 0; }
  // Bytes copied into the owned buffer (headers + small arguments).
  size_t owned_bytes() const { return owned_.size(); }

  // Everything as one contiguous buffer (copies referenced arguments too).
  Bytes ToBytes() const;
  void Clear();

 private:
  struct Piece {
    const uint8_t* external;  // nullptr: bytes [offset, offset+len) of owned_
    size_t offset;
    size_t len;
  };
  void AppendOwned(const void* p, size_t n);
  void AppendHeader(char type, size_t n);
  void AppendArg(ByteView arg);

  size_t threshold_;
  Bytes owned_;
  std::vector<Piece> pieces_;
  size_t size_ = 0;
  size_t commands_ = 0;
  mutable std::vector<ByteView> segments_;
  mutable bool segments_dirty_ = false;
};

// One command as a contiguous buffer (small commands; tests).
Bytes EncodeCommand(std::span<const ByteView> args);
Bytes EncodeCommand(std::initializer_list<std::string_view> args);
Bytes EncodeCommand(const std::vector<std::string>& args);

// ---- Appending into a caller's buffer ----
// The functions below write RESP straight onto the end of `*out`, growing it once per call
// (one resize, then memcpy; no temporary buffer), for callers that encode many commands
// into one buffer, like the snapshot lanes. Reserve room up front to avoid reallocations
// (CommandSize gives a command's exact size). Composing them gives a whole command:
// AppendArrayHeader(out, 3); AppendBulk(out, "SET"); AppendBulk(out, key); AppendBulk(out, v).

// Appends one command: "*<argc>\r\n" then each argument as a bulk string.
void AppendCommand(Bytes* out, std::span<const ByteView> args);
void AppendCommand(Bytes* out, std::initializer_list<std::string_view> args);
void AppendCommand(Bytes* out, const std::vector<std::string>& args);
// The exact number of bytes AppendCommand appends for these arguments.
size_t CommandSize(const std::vector<std::string>& args);

// "*<n>\r\n": the header of a command of n arguments (an array of n bulk strings).
inline void AppendArrayHeader(Bytes* out, size_t n);
// "$<n>\r\n": the header of a bulk string of n bytes (the n bytes and "\r\n" must follow).
inline void AppendBulkHeader(Bytes* out, size_t n);
// "$<n>\r\n<bytes>\r\n". Returns the offset in *out at which `bytes` begin (where a
// caller finds an argument again, e.g. the key, to name it in a message). `bytes` must not
// point into *out.
inline size_t AppendBulk(Bytes* out, ByteView bytes);
inline size_t AppendBulk(Bytes* out, std::string_view s);
// A bulk string holding the decimal form of `v` ("$3\r\n-12\r\n").
inline void AppendBulkInt(Bytes* out, int64_t v);
// "$<n>\r\n", then n bytes for the caller to fill, then "\r\n". Returns where the n
// bytes go (valid until *out grows again): for an argument produced in place, such as a
// decompressed value or a DUMP payload written with its footer, so it is written once.
// The n bytes are zero until the caller writes them.
inline uint8_t* AppendBulkSpace(Bytes* out, size_t n);
// Bytes of "$<n>\r\n" (without the n bytes and the final "\r\n").
inline size_t BulkHeaderSize(size_t n);

// A bulk string whose bytes are known when compiling ("$7\r\nRESTORE\r\n"), for the command
// names and fixed arguments a hot loop appends for every key: one copy, no formatting.
//   static constexpr resp::ConstBulk kRestore("RESTORE");  AppendBulk(out, kRestore);
template <size_t N>  // N: the literal's size with its terminating NUL
struct ConstBulk {
  consteval explicit ConstBulk(const char (&s)[N]) {
    size_t digits = 1;
    for (size_t v = N - 1; v >= 10; v /= 10) ++digits;
    bytes[0] = '$';
    for (size_t i = 0, v = N - 1; i < digits; ++i, v /= 10)
      bytes[digits - i] = static_cast<char>('0' + v % 10);
    bytes[digits + 1] = '\r';
    bytes[digits + 2] = '\n';
    for (size_t i = 0; i + 1 < N; ++i) bytes[digits + 3 + i] = s[i];
    size = digits + 3 + (N - 1) + 2;
    bytes[size - 2] = '\r';
    bytes[size - 1] = '\n';
  }
  char bytes[N + 24] = {};
  size_t size = 0;
};

// ---- inline definitions (the snapshot calls these for every key) ----

namespace internal {

// "<type><n>\r\n" into buf (at least 24 bytes); returns its length.
inline size_t FormatHeader(char type, size_t n, char* buf) {
  buf[0] = type;
  auto [end, ec] = std::to_chars(buf + 1, buf + 22, n);
  (void)ec;  // 21 characters hold every size_t
  end[0] = '\r';
  end[1] = '\n';
  return static_cast<size_t>(end + 2 - buf);
}

// Makes room for n more bytes at the end of *out (one resize: no per-byte growth) and
// returns where they go.
inline uint8_t* Extend(Bytes* out, size_t n) {
  size_t at = out->size();
  out->resize(at + n);
  return out->data() + at;
}

inline void AppendRaw(Bytes* out, const char* p, size_t n) { std::memcpy(Extend(out, n), p, n); }

}  // namespace internal

inline void AppendArrayHeader(Bytes* out, size_t n) {
  char buf[24];
  internal::AppendRaw(out, buf, internal::FormatHeader('*', n, buf));
}

inline void AppendBulkHeader(Bytes* out, size_t n) {
  char buf[24];
  internal::AppendRaw(out, buf, internal::FormatHeader('$', n, buf));
}

inline uint8_t* AppendBulkSpace(Bytes* out, size_t n) {
  char buf[24];
  size_t header = internal::FormatHeader('$', n, buf);
  uint8_t* p = internal::Extend(out, header + n + 2);
  std::memcpy(p, buf, header);
  p[header + n] = '\r';
  p[header + n + 1] = '\n';
  return p + header;
}

inline size_t AppendBulk(Bytes* out, ByteView bytes) {
  uint8_t* p = AppendBulkSpace(out, bytes.size());
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  return static_cast<size_t>(p - out->data());
}

inline size_t AppendBulk(Bytes* out, std::string_view s) { return AppendBulk(out, AsBytes(s)); }

inline void AppendBulkInt(Bytes* out, int64_t v) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  (void)ec;  // 24 characters hold every int64
  AppendBulk(out, std::string_view(digits, static_cast<size_t>(end - digits)));
}

// g++ 12 reports a memcpy of SIZE_MAX bytes here once the resize is inlined into a caller
// whose buffer it can see (-Wstringop-overflow, a false positive: bulk.size is a small
// constant); the same code with a run-time size does not warn.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
template <size_t N>
inline void AppendBulk(Bytes* out, const ConstBulk<N>& bulk) {
  std::memcpy(internal::Extend(out, bulk.size), bulk.bytes, bulk.size);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

inline size_t BulkHeaderSize(size_t n) {
  size_t digits = 1;
  for (size_t v = n; v >= 10; v /= 10) ++digits;
  return 1 + digits + 2;
}

}  // namespace kf::resp
