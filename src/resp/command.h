// resp::Command: one request as a client (or a replication primary) sends it: its
// arguments, binary-safe, and its exact size on the wire.
//
// wire_size() counts every byte of the command as received, headers and terminators
// included; replication offsets are counted in these bytes, so a replica's applied offset
// is the sum of the wire sizes of the commands it applied.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/bytes.h"

namespace kf::resp {

class Command {
 public:
  size_t argc() const { return args_.size(); }
  bool empty() const { return args_.empty(); }
  // Argument i as bytes / as a string_view (views into this Command; valid while it lives
  // and is not reused by the parser).
  ByteView arg(size_t i) const {
    return ByteView(reinterpret_cast<const uint8_t*>(data_.data()) + args_[i].first,
                    args_[i].second);
  }
  std::string_view arg_view(size_t i) const {
    return std::string_view(data_.data() + args_[i].first, args_[i].second);
  }
  // Case-insensitive comparison of argument i (e.g. the command name) with an ASCII word.
  bool ArgEquals(size_t i, std::string_view word) const;
  // Bytes this command took on the wire.
  size_t wire_size() const { return wire_size_; }
  // True when it arrived as an inline command ("PING\r\n") rather than a multibulk.
  bool is_inline() const { return inline_; }

  // "SET key value" with binary bytes escaped, each argument cut at max_arg_len.
  std::string ToString(size_t max_arg_len = 64) const;

  // Builds a command from arguments (tests, fakes); wire_size is set to 0.
  static Command FromArgs(const std::vector<std::string>& args);

 private:
  friend class CommandParser;
  void Clear() {
    data_.clear();
    args_.clear();
    wire_size_ = 0;
    inline_ = false;
  }

  std::string data_;                             // all arguments, back to back
  std::vector<std::pair<size_t, size_t>> args_;  // (offset in data_, length)
  size_t wire_size_ = 0;
  bool inline_ = false;
};

}  // namespace kf::resp
