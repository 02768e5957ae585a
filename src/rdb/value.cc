// Names of the logical value types.
#include "rdb/value.h"

namespace kf::rdb {

const char* ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kString:
      return "string";
    case ValueType::kList:
      return "list";
    case ValueType::kSet:
      return "set";
    case ValueType::kZset:
      return "zset";
    case ValueType::kHash:
      return "hash";
    case ValueType::kStream:
      return "stream";
    case ValueType::kModule:
      return "module";
  }
  return "unknown";
}

}  // namespace kf::rdb
