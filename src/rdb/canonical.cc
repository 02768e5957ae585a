// Canonical JSON-lines formatting (see canonical.h).
#include "rdb/canonical.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace kf::rdb {
namespace {

void AppendHexQuoted(std::string* out, std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out->push_back('"');
  size_t at = out->size();
  out->resize(at + s.size() * 2);
  char* d = out->data() + at;
  for (unsigned char c : s) {
    *d++ = kDigits[c >> 4];
    *d++ = kDigits[c & 0xf];
  }
  out->push_back('"');
}

void AppendId(std::string* out, const StreamId& id) {
  out->push_back('"');
  out->append(std::to_string(id.ms));
  out->push_back('-');
  out->append(std::to_string(id.seq));
  out->push_back('"');
}

void AppendValueJson(std::string* out, const Value& v, const CanonicalOptions& options) {
  switch (v.type) {
    case ValueType::kString:
    case ValueType::kModule:
      AppendHexQuoted(out, v.str);
      return;
    case ValueType::kList:
    case ValueType::kSet: {
      std::vector<const std::string*> items;
      items.reserve(v.elements.size());
      for (const auto& e : v.elements) items.push_back(&e);
      if (v.type == ValueType::kSet) {
        std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return *a < *b; });
      }
      out->push_back('[');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out->push_back(',');
        AppendHexQuoted(out, *items[i]);
      }
      out->push_back(']');
      return;
    }
    case ValueType::kZset: {
      std::vector<const ZsetEntry*> items;
      items.reserve(v.zset.size());
      for (const auto& e : v.zset) items.push_back(&e);
      std::sort(items.begin(), items.end(), [](auto* a, auto* b) {
        if (a->score != b->score) return a->score < b->score;
        return a->member < b->member;
      });
      out->push_back('[');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out->push_back(',');
        out->push_back('[');
        AppendHexQuoted(out, items[i]->member);
        out->append(",\"");
        out->append(FormatScore(items[i]->score));
        out->append("\"]");
      }
      out->push_back(']');
      return;
    }
    case ValueType::kHash: {
      std::vector<const HashField*> items;
      items.reserve(v.hash.size());
      for (const auto& e : v.hash) items.push_back(&e);
      std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->field < b->field; });
      out->push_back('[');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out->push_back(',');
        out->push_back('[');
        AppendHexQuoted(out, items[i]->field);
        out->push_back(',');
        AppendHexQuoted(out, items[i]->value);
        out->push_back(']');
      }
      out->push_back(']');
      return;
    }
    case ValueType::kStream: {
      const StreamValue& s = v.stream;
      out->append("{\"entries\":[");
      for (size_t i = 0; i < s.entries.size(); ++i) {
        if (i) out->push_back(',');
        out->push_back('[');
        AppendId(out, s.entries[i].id);
        out->append(",[");
        const auto& fields = s.entries[i].fields;
        for (size_t j = 0; j < fields.size(); ++j) {
          if (j) out->push_back(',');
          out->push_back('[');
          AppendHexQuoted(out, fields[j].first);
          out->push_back(',');
          AppendHexQuoted(out, fields[j].second);
          out->push_back(']');
        }
        out->append("]]");
      }
      out->append("],");
      if (s.has_v2_metadata) {
        out->append("\"entries_added\":");
        out->append(std::to_string(s.entries_added));
        out->push_back(',');
      }
      if (s.has_v2_metadata && options.full) {
        out->append("\"first_id\":");
        AppendId(out, s.first_id);
        out->push_back(',');
      }
      out->append("\"groups\":[");
      std::vector<const StreamGroup*> groups;
      for (const auto& g : s.groups) groups.push_back(&g);
      std::sort(groups.begin(), groups.end(), [](auto* a, auto* b) { return a->name < b->name; });
      for (size_t i = 0; i < groups.size(); ++i) {
        const StreamGroup& g = *groups[i];
        if (i) out->push_back(',');
        out->append("{\"consumers\":[");
        std::vector<const StreamConsumer*> consumers;
        for (const auto& c : g.consumers) consumers.push_back(&c);
        std::sort(consumers.begin(), consumers.end(),
                  [](auto* a, auto* b) { return a->name < b->name; });
        for (size_t j = 0; j < consumers.size(); ++j) {
          if (j) out->push_back(',');
          if (!options.full) {
            AppendHexQuoted(out, consumers[j]->name);
            continue;
          }
          out->push_back('[');
          AppendHexQuoted(out, consumers[j]->name);
          out->push_back(',');
          out->append(std::to_string(consumers[j]->seen_time_ms));
          out->push_back(',');
          out->append(std::to_string(consumers[j]->active_time_ms));
          out->push_back(']');
        }
        out->append("],");
        if (s.has_v2_metadata) {
          out->append("\"entries_read\":");
          out->append(g.entries_read < 0 ? std::string("null") : std::to_string(g.entries_read));
          out->push_back(',');
        }
        out->append("\"last_delivered_id\":");
        AppendId(out, g.last_delivered_id);
        out->append(",\"name\":");
        AppendHexQuoted(out, g.name);
        out->append(",\"pel\":[");
        for (size_t j = 0; j < g.pel.size() && j < options.max_pel_entries; ++j) {
          if (j) out->push_back(',');
          out->push_back('[');
          AppendId(out, g.pel[j].id);
          out->push_back(',');
          AppendHexQuoted(out, g.pel[j].consumer);
          out->push_back(',');
          out->append(std::to_string(g.pel[j].delivery_count));
          if (options.full) {
            out->push_back(',');
            out->append(std::to_string(g.pel[j].delivery_time_ms));
          }
          out->push_back(']');
        }
        out->append("]}");
      }
      out->append("],\"last_id\":");
      AppendId(out, s.last_id);
      if (s.has_v2_metadata) {
        out->append(",\"max_deleted_id\":");
        AppendId(out, s.max_deleted_id);
      }
      out->push_back('}');
      return;
    }
  }
}

}  // namespace

std::string FormatScore(double score) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", score);
  return buf;
}

std::string JsonQuote(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  auto u_escape = [&](uint32_t cp) {
    out.append("\\u");
    for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kDigits[(cp >> shift) & 0xf]);
  };
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        case '\b':
          out.append("\\b");
          break;
        case '\f':
          out.append("\\f");
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            u_escape(c);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: decode it; invalid bytes are escaped one by one.
    int n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    uint32_t cp = 0;
    bool ok = n > 0 && i + static_cast<size_t>(n) <= s.size();
    if (ok) {
      cp = c & (0x7F >> n);
      for (int k = 1; k < n; ++k) {
        unsigned char cc = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
        if ((cc & 0xC0) != 0x80) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (cc & 0x3F);
      }
    }
    if (!ok) {
      u_escape(c);
      ++i;
      continue;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      u_escape(0xD800 + (cp >> 10));
      u_escape(0xDC00 + (cp & 0x3FF));
    } else {
      u_escape(cp);
    }
    i += static_cast<size_t>(n);
  }
  out.push_back('"');
  return out;
}

std::string CanonicalKeyLine(uint64_t db, ByteView key, int64_t expire_ms, const Value& value,
                             const CanonicalOptions& options, const KeyLineMeta& meta) {
  std::string out;
  out.reserve(64 + key.size() * 2);
  out.append("{\"db\":");
  out.append(std::to_string(db));
  out.append(",\"expire_ms\":");
  out.append(std::to_string(expire_ms));
  if (value.type == ValueType::kHash) {
    std::vector<const HashField*> ttl;
    for (const auto& f : value.hash) {
      if (f.expire_ms >= 0) ttl.push_back(&f);
    }
    if (!ttl.empty()) {
      std::sort(ttl.begin(), ttl.end(), [](auto* a, auto* b) { return a->field < b->field; });
      out.append(",\"field_expire_ms\":{");
      for (size_t i = 0; i < ttl.size(); ++i) {
        if (i) out.push_back(',');
        AppendHexQuoted(&out, ttl[i]->field);
        out.push_back(':');
        out.append(std::to_string(ttl[i]->expire_ms));
      }
      out.push_back('}');
    }
  }
  if (options.full && meta.freq >= 0) {
    out.append(",\"freq\":");
    out.append(std::to_string(meta.freq));
  }
  if (options.full && meta.idle_s >= 0) {
    out.append(",\"idle_s\":");
    out.append(std::to_string(meta.idle_s));
  }
  out.append(",\"key\":");
  AppendHexQuoted(&out, AsStringView(key));
  out.append(",\"type\":\"");
  out.append(ValueTypeName(value.type));
  out.append("\",\"value\":");
  AppendValueJson(&out, value, options);
  out.push_back('}');
  return out;
}

std::string CanonicalFunctionLine(const FunctionLibrary& library) {
  return "{\"code\": " + JsonQuote(library.code) +
         ", \"function_library\": " + JsonQuote(library.name) + "}";
}

void AppendValuePart(Value* whole, Value&& part) {
  auto move_all = [](auto& to, auto& from) {
    if (to.empty()) {
      to = std::move(from);
    } else {
      to.insert(to.end(), std::make_move_iterator(from.begin()),
                std::make_move_iterator(from.end()));
    }
  };
  whole->type = part.type;
  whole->str.append(part.str);
  move_all(whole->elements, part.elements);
  move_all(whole->zset, part.zset);
  move_all(whole->hash, part.hash);
  std::vector<StreamEntry> entries = std::move(whole->stream.entries);
  move_all(entries, part.stream.entries);
  whole->stream = std::move(part.stream);
  whole->stream.entries = std::move(entries);
}

AccessLevel CanonicalDumpSink::OnKey(const KeyInfo&) { return AccessLevel::kData; }

void CanonicalDumpSink::OnValue(const KeyInfo& key, Value& part, bool last) {
  if (!last || has_partial_) {
    AppendValuePart(&partial_, std::move(part));
    has_partial_ = true;
    if (!last) return;
  }
  const Value& v = has_partial_ ? partial_ : part;
  keys_.push_back(KeyLine{key.db, ToString(key.key),
                          CanonicalKeyLine(key.db, key.key, key.expire_ms, v, options_,
                                           KeyLineMeta{key.idle_s, key.freq})});
  if (has_partial_) {
    partial_ = Value{};
    has_partial_ = false;
  }
  sorted_done_ = false;
}

void CanonicalDumpSink::OnFunction(const FunctionLibrary& library) {
  functions_.emplace_back(library.name, CanonicalFunctionLine(library));
  sorted_done_ = false;
}

const std::vector<std::string>& CanonicalDumpSink::SortedLines() {
  if (sorted_done_) return sorted_;
  std::sort(keys_.begin(), keys_.end(), [](const KeyLine& a, const KeyLine& b) {
    if (a.db != b.db) return a.db < b.db;
    return a.key < b.key;
  });
  std::sort(functions_.begin(), functions_.end());
  sorted_.clear();
  sorted_.reserve(keys_.size() + functions_.size());
  for (const auto& k : keys_) sorted_.push_back(k.line);
  for (const auto& f : functions_) sorted_.push_back(f.second);
  sorted_done_ = true;
  return sorted_;
}

}  // namespace kf::rdb
