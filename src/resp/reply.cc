// resp::Reply builders, lookup, equality and rendering.
#include "resp/reply.h"

#include <cmath>
#include <cstdio>

namespace kf::resp {

const char* ReplyTypeName(ReplyType type) {
  switch (type) {
    case ReplyType::kSimpleString:
      return "simple string";
    case ReplyType::kError:
      return "error";
    case ReplyType::kInteger:
      return "integer";
    case ReplyType::kBulkString:
      return "bulk string";
    case ReplyType::kArray:
      return "array";
    case ReplyType::kNull:
      return "null";
    case ReplyType::kMap:
      return "map";
    case ReplyType::kSet:
      return "set";
    case ReplyType::kDouble:
      return "double";
    case ReplyType::kBoolean:
      return "boolean";
    case ReplyType::kBigNumber:
      return "big number";
    case ReplyType::kVerbatim:
      return "verbatim string";
    case ReplyType::kBlobError:
      return "blob error";
    case ReplyType::kPush:
      return "push";
  }
  return "unknown";
}

Reply Reply::SimpleString(std::string_view s) {
  Reply r(ReplyType::kSimpleString);
  r.str_ = s;
  return r;
}
Reply Reply::Error(std::string_view s) {
  Reply r(ReplyType::kError);
  r.str_ = s;
  return r;
}
Reply Reply::Integer(int64_t v) {
  Reply r(ReplyType::kInteger);
  r.integer_ = v;
  return r;
}
Reply Reply::Bulk(std::string_view s) {
  Reply r(ReplyType::kBulkString);
  r.str_ = s;
  return r;
}
Reply Reply::Null() { return Reply(ReplyType::kNull); }
Reply Reply::Double(double v) {
  Reply r(ReplyType::kDouble);
  r.double_ = v;
  return r;
}
Reply Reply::Boolean(bool v) {
  Reply r(ReplyType::kBoolean);
  r.integer_ = v ? 1 : 0;
  return r;
}
Reply Reply::Aggregate(ReplyType type, std::vector<Reply> children) {
  Reply r(type);
  r.children_ = std::move(children);
  return r;
}

const Reply* Reply::Find(std::string_view k) const {
  if (type_ != ReplyType::kMap) return nullptr;
  for (size_t i = 0; i + 1 < children_.size(); i += 2) {
    if (children_[i].is_string() && children_[i].str_ == k) return &children_[i + 1];
  }
  return nullptr;
}

bool operator==(const Reply& a, const Reply& b) {
  if (a.type_ != b.type_ || a.integer_ != b.integer_ || a.str_ != b.str_ ||
      a.format_ != b.format_ || a.children_ != b.children_ || a.attributes_ != b.attributes_) {
    return false;
  }
  // NaN equals NaN here: two parses of the same bytes must compare equal.
  if (std::isnan(a.double_) || std::isnan(b.double_)) {
    return std::isnan(a.double_) && std::isnan(b.double_);
  }
  return a.double_ == b.double_;
}

std::string Reply::ToString(size_t max_len) const {
  std::string out;
  RenderTo(&out, max_len);
  if (out.size() > max_len) {
    out.resize(max_len);
    out += "...";
  }
  return out;
}

void Reply::RenderTo(std::string* out, size_t max_len) const {
  if (out->size() > max_len) return;  // the caller cuts; stop growing
  switch (type_) {
    case ReplyType::kSimpleString:
    case ReplyType::kBigNumber:
      *out += Printable(str_, max_len);
      return;
    case ReplyType::kError:
    case ReplyType::kBlobError:
      *out += "(error) ";
      *out += Printable(str_, max_len);
      return;
    case ReplyType::kInteger:
      *out += "(integer) " + std::to_string(integer_);
      return;
    case ReplyType::kBulkString:
    case ReplyType::kVerbatim:
      *out += '"';
      *out += Printable(str_, max_len);
      *out += '"';
      return;
    case ReplyType::kNull:
      *out += "(nil)";
      return;
    case ReplyType::kDouble: {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "(double) %.17g", double_);
      *out += buf;
      return;
    }
    case ReplyType::kBoolean:
      *out += integer_ ? "(true)" : "(false)";
      return;
    case ReplyType::kMap: {
      *out += '{';
      for (size_t i = 0; i + 1 < children_.size(); i += 2) {
        if (i > 0) *out += ", ";
        children_[i].RenderTo(out, max_len);
        *out += ": ";
        children_[i + 1].RenderTo(out, max_len);
        if (out->size() > max_len) return;
      }
      *out += '}';
      return;
    }
    case ReplyType::kArray:
    case ReplyType::kSet:
    case ReplyType::kPush: {
      *out += type_ == ReplyType::kSet ? "~[" : (type_ == ReplyType::kPush ? ">[" : "[");
      for (size_t i = 0; i < children_.size(); ++i) {
        if (i > 0) *out += ", ";
        children_[i].RenderTo(out, max_len);
        if (out->size() > max_len) return;
      }
      *out += ']';
      return;
    }
  }
}

}  // namespace kf::resp
