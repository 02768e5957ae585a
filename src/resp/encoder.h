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

#include <cstddef>
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
void AppendArrayHeader(Bytes* out, size_t n);
// "$<n>\r\n": the header of a bulk string of n bytes (the n bytes and "\r\n" must follow).
void AppendBulkHeader(Bytes* out, size_t n);
// "$<n>\r\n<bytes>\r\n". Returns the offset in *out at which `bytes` begin (where a
// caller finds an argument again, e.g. the key, to name it in a message).
size_t AppendBulk(Bytes* out, ByteView bytes);
size_t AppendBulk(Bytes* out, std::string_view s);
// A bulk string holding the decimal form of `v` ("$3\r\n-12\r\n").
void AppendBulkInt(Bytes* out, int64_t v);
// "$<n>\r\n", then n bytes for the caller to fill, then "\r\n". Returns where the n
// bytes go (valid until *out grows again): for an argument produced in place, such as a
// decompressed value or a DUMP payload written with its footer, so it is written once.
// The n bytes are zero until the caller writes them.
uint8_t* AppendBulkSpace(Bytes* out, size_t n);
// Bytes of "$<n>\r\n" (without the n bytes and the final "\r\n").
size_t BulkHeaderSize(size_t n);

}  // namespace kf::resp
