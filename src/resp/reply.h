// resp::Reply: one RESP2/RESP3 value as received from a server, and its rendering.
//
// A Reply is a small tree. Scalars keep their payload in one field (str() for the string
// kinds, integer(), dbl(), boolean()); aggregates keep their elements in children(). A map
// (and an attribute) keeps keys and values interleaved: children()[2*i] is key i,
// children()[2*i+1] its value. RESP3 attributes (|) that precede a value are parsed and
// attached to that value: attributes() holds their key/value pairs, interleaved the same
// way (several attributes before one value are merged). Strings are binary-safe:
// std::string holds any byte.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"

namespace kf::resp {

enum class ReplyType : uint8_t {
  kSimpleString,  // +OK
  kError,         // -ERR message
  kInteger,       // :42
  kBulkString,    // $3\r\nfoo
  kArray,         // *N
  kNull,          // $-1, *-1 (RESP2) and _ (RESP3)
  kMap,           // %N  (N key/value pairs)
  kSet,           // ~N
  kDouble,        // ,3.14  ,inf  ,-inf  ,nan
  kBoolean,       // #t  #f
  kBigNumber,     // (3492890328409238509324850943850943825024385  (digits kept as text)
  kVerbatim,      // =15\r\ntxt:Some string  (format() = "txt", str() = "Some string")
  kBlobError,     // !21\r\nSYNTAX invalid syntax
  kPush,          // >N  (out-of-band data, e.g. pub/sub messages under RESP3)
};

// Lower-case name of a type for messages ("bulk string", "map", ...).
const char* ReplyTypeName(ReplyType type);

class Reply {
 public:
  Reply() = default;
  explicit Reply(ReplyType type) : type_(type) {}

  // Builders (tests, fakes).
  static Reply SimpleString(std::string_view s);
  static Reply Error(std::string_view s);
  static Reply Integer(int64_t v);
  static Reply Bulk(std::string_view s);
  static Reply Null();
  static Reply Double(double v);
  static Reply Boolean(bool v);
  static Reply Aggregate(ReplyType type, std::vector<Reply> children);

  ReplyType type() const { return type_; }
  bool is_error() const { return type_ == ReplyType::kError || type_ == ReplyType::kBlobError; }
  bool is_null() const { return type_ == ReplyType::kNull; }
  bool is_string() const {  // a kind whose payload is str()
    return type_ == ReplyType::kSimpleString || type_ == ReplyType::kBulkString ||
           type_ == ReplyType::kVerbatim || type_ == ReplyType::kBigNumber || is_error();
  }
  bool is_aggregate() const {
    return type_ == ReplyType::kArray || type_ == ReplyType::kMap || type_ == ReplyType::kSet ||
           type_ == ReplyType::kPush;
  }
  // True for +OK exactly.
  bool IsOk() const { return type_ == ReplyType::kSimpleString && str_ == "OK"; }

  // Payload of string kinds and errors (for errors: the text after '-' / the blob).
  const std::string& str() const { return str_; }
  ByteView bytes() const { return AsBytes(str_); }
  int64_t integer() const { return integer_; }
  double dbl() const { return double_; }
  bool boolean() const { return integer_ != 0; }
  // Verbatim strings: the three-byte format ("txt", "mkd").
  const std::string& format() const { return format_; }

  const std::vector<Reply>& children() const { return children_; }
  std::vector<Reply>& mutable_children() { return children_; }
  size_t size() const { return children_.size(); }
  const Reply& operator[](size_t i) const { return children_[i]; }
  // Maps: number of pairs, and the pair accessors.
  size_t map_size() const { return children_.size() / 2; }
  const Reply& key(size_t i) const { return children_[2 * i]; }
  const Reply& value(size_t i) const { return children_[2 * i + 1]; }
  // Maps: the value whose key is a string equal to `k`, or nullptr.
  const Reply* Find(std::string_view k) const;

  // Attribute key/value pairs (interleaved) that preceded this value; usually empty.
  const std::vector<Reply>& attributes() const { return attributes_; }

  // A one-line rendering for logs and error messages, cut at max_len characters:
  // "OK", "(error) ERR wrong", "(integer) 3", "\"binary\\x00\"", "[1, 2]", "{k: v}", "(nil)".
  std::string ToString(size_t max_len = 256) const;

  friend bool operator==(const Reply& a, const Reply& b);

 private:
  friend class ReplyParser;
  void RenderTo(std::string* out, size_t max_len) const;

  ReplyType type_ = ReplyType::kNull;
  int64_t integer_ = 0;  // kInteger; kBoolean (0/1)
  double double_ = 0;    // kDouble
  std::string str_;
  std::string format_;
  std::vector<Reply> children_;
  std::vector<Reply> attributes_;
};

}  // namespace kf::resp
