// Logical value comparison (see value_compare.h for what counts as equal).
#include "verify/value_compare.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "common/bytes.h"

namespace kf::verify {
namespace {

std::string Count(size_t a, size_t b, const char* what) {
  return std::string(what) + " " + std::to_string(a) + " vs " + std::to_string(b);
}

std::optional<std::string> CompareLists(const std::vector<std::string>& a,
                                        const std::vector<std::string>& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) {
      return "element " + std::to_string(i) + ": " + Shown(a[i]) + " vs " + Shown(b[i]);
    }
  }
  if (a.size() != b.size()) return Count(a.size(), b.size(), "length");
  return std::nullopt;
}

// Both sorted. Names the first member that only one side has.
std::optional<std::string> CompareSortedMembers(const std::vector<std::string>& a,
                                                const std::vector<std::string>& b,
                                                const char* what) {
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i] < b[j])) {
      return std::string(what) + " " + Shown(a[i]) + " missing on target";
    }
    if (i == a.size() || b[j] < a[i]) {
      return std::string(what) + " " + Shown(b[j]) + " only on target";
    }
    ++i;
    ++j;
  }
  return std::nullopt;
}

std::optional<std::string> CompareHashes(std::vector<rdb::HashField>* a,
                                         std::vector<rdb::HashField>* b) {
  auto by_field = [](const rdb::HashField& x, const rdb::HashField& y) {
    return x.field < y.field;
  };
  std::sort(a->begin(), a->end(), by_field);
  std::sort(b->begin(), b->end(), by_field);
  size_t i = 0, j = 0;
  while (i < a->size() || j < b->size()) {
    if (j == b->size() || (i < a->size() && (*a)[i].field < (*b)[j].field)) {
      return "field " + Shown((*a)[i].field) + " missing on target";
    }
    if (i == a->size() || (*b)[j].field < (*a)[i].field) {
      return "field " + Shown((*b)[j].field) + " only on target";
    }
    const auto& x = (*a)[i];
    const auto& y = (*b)[j];
    if (x.value != y.value) {
      return "field " + Shown(x.field) + ": " + Shown(x.value) + " vs " + Shown(y.value);
    }
    if (x.expire_ms != y.expire_ms) {
      return "field " + Shown(x.field) + ": field expiry " + std::to_string(x.expire_ms) + " vs " +
             std::to_string(y.expire_ms);
    }
    ++i;
    ++j;
  }
  return std::nullopt;
}

std::optional<std::string> CompareZsets(std::vector<rdb::ZsetEntry>* a,
                                        std::vector<rdb::ZsetEntry>* b) {
  auto by_member = [](const rdb::ZsetEntry& x, const rdb::ZsetEntry& y) {
    return x.member < y.member;
  };
  std::sort(a->begin(), a->end(), by_member);
  std::sort(b->begin(), b->end(), by_member);
  size_t i = 0, j = 0;
  while (i < a->size() || j < b->size()) {
    if (j == b->size() || (i < a->size() && (*a)[i].member < (*b)[j].member)) {
      return "member " + Shown((*a)[i].member) + " missing on target";
    }
    if (i == a->size() || (*b)[j].member < (*a)[i].member) {
      return "member " + Shown((*b)[j].member) + " only on target";
    }
    // IEEE equality, on purpose: 1e-07 printed two ways is one double; one ulp apart is not.
    if (!((*a)[i].score == (*b)[j].score)) {
      return "member " + Shown((*a)[i].member) + ": score " + ScoreText((*a)[i].score) + " vs " +
             ScoreText((*b)[j].score);
    }
    ++i;
    ++j;
  }
  return std::nullopt;
}

std::optional<std::string> CompareGroups(std::vector<rdb::StreamGroup>* a,
                                         std::vector<rdb::StreamGroup>* b) {
  auto by_name = [](const auto& x, const auto& y) { return x.name < y.name; };
  std::sort(a->begin(), a->end(), by_name);
  std::sort(b->begin(), b->end(), by_name);
  size_t i = 0, j = 0;
  while (i < a->size() || j < b->size()) {
    if (j == b->size() || (i < a->size() && (*a)[i].name < (*b)[j].name)) {
      return "group " + Shown((*a)[i].name) + " missing on target";
    }
    if (i == a->size() || (*b)[j].name < (*a)[i].name) {
      return "group " + Shown((*b)[j].name) + " only on target";
    }
    auto& x = (*a)[i];
    auto& y = (*b)[j];
    const std::string g = "group " + Shown(x.name) + ": ";
    if (x.last_delivered_id != y.last_delivered_id) {
      return g + "last delivered id " + x.last_delivered_id.ToString() + " vs " +
             y.last_delivered_id.ToString();
    }
    if (x.entries_read != y.entries_read) {
      return g + "entries read " + std::to_string(x.entries_read) + " vs " +
             std::to_string(y.entries_read);
    }
    // PEL: by id; the reader gives it in id order, sort anyway (cheap, and safe).
    auto by_id = [](const auto& p, const auto& q) { return p.id < q.id; };
    std::sort(x.pel.begin(), x.pel.end(), by_id);
    std::sort(y.pel.begin(), y.pel.end(), by_id);
    size_t n = std::min(x.pel.size(), y.pel.size());
    for (size_t k = 0; k < n; ++k) {
      const auto& p = x.pel[k];
      const auto& q = y.pel[k];
      if (p.id != q.id) {
        const auto& first = p.id < q.id ? p : q;
        return g + "pending entry " + first.id.ToString() +
               (p.id < q.id ? " missing on target" : " only on target");
      }
      if (p.consumer != q.consumer) {
        return g + "pending entry " + p.id.ToString() + " owned by " + Shown(p.consumer) + " vs " +
               Shown(q.consumer);
      }
      if (p.delivery_count != q.delivery_count) {
        return g + "pending entry " + p.id.ToString() + " delivery count " +
               std::to_string(p.delivery_count) + " vs " + std::to_string(q.delivery_count);
      }
    }
    if (x.pel.size() != y.pel.size()) {
      const auto& longer = x.pel.size() > y.pel.size() ? x.pel : y.pel;
      return g + "pending entry " + longer[n].id.ToString() +
             (x.pel.size() > y.pel.size() ? " missing on target" : " only on target");
    }
    std::vector<std::string> cx, cy;
    for (const auto& c : x.consumers) cx.push_back(c.name);
    for (const auto& c : y.consumers) cy.push_back(c.name);
    std::sort(cx.begin(), cx.end());
    std::sort(cy.begin(), cy.end());
    if (auto d = CompareSortedMembers(cx, cy, "consumer")) return g + *d;
    ++i;
    ++j;
  }
  return std::nullopt;
}

std::optional<std::string> CompareStreams(rdb::StreamValue* a, rdb::StreamValue* b) {
  size_t n = std::min(a->entries.size(), b->entries.size());
  for (size_t i = 0; i < n; ++i) {
    const auto& x = a->entries[i];
    const auto& y = b->entries[i];
    if (x.id != y.id) {
      const auto& first = x.id < y.id ? x : y;
      return "entry " + first.id.ToString() +
             (x.id < y.id ? " missing on target" : " only on target");
    }
    if (x.fields != y.fields) return "entry " + x.id.ToString() + ": fields differ";
  }
  if (a->entries.size() != b->entries.size()) {
    return Count(a->entries.size(), b->entries.size(), "entries");
  }
  if (a->last_id != b->last_id) {
    return "last id " + a->last_id.ToString() + " vs " + b->last_id.ToString();
  }
  if (a->has_v2_metadata && b->has_v2_metadata) {
    if (a->max_deleted_id != b->max_deleted_id) {
      return "max deleted id " + a->max_deleted_id.ToString() + " vs " +
             b->max_deleted_id.ToString();
    }
    if (a->entries_added != b->entries_added) {
      return "entries added " + std::to_string(a->entries_added) + " vs " +
             std::to_string(b->entries_added);
    }
  }
  return CompareGroups(&a->groups, &b->groups);
}

}  // namespace

std::string Shown(std::string_view bytes) { return "\"" + Printable(bytes, 40) + "\""; }

std::string ScoreText(double score) {
  if (std::isinf(score)) return score > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", score);
  return buf;
}

std::optional<double> ParseScore(std::string_view text) {
  if (text == "inf" || text == "+inf") return HUGE_VAL;
  if (text == "-inf") return -HUGE_VAL;
  if (text.starts_with('+')) text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || std::isnan(v)) return std::nullopt;
  return v;
}

std::optional<std::string> DescribeValueDifference(rdb::Value* a, rdb::Value* b) {
  if (a->type != b->type) {
    return std::string("type ") + rdb::ValueTypeName(a->type) + " vs " +
           rdb::ValueTypeName(b->type);
  }
  switch (a->type) {
    case rdb::ValueType::kString:
    case rdb::ValueType::kModule:
      if (a->str != b->str) {
        if (a->str.size() != b->str.size()) return Count(a->str.size(), b->str.size(), "length");
        size_t at = 0;
        while (at < a->str.size() && a->str[at] == b->str[at]) ++at;
        return "bytes differ from offset " + std::to_string(at);
      }
      return std::nullopt;
    case rdb::ValueType::kList:
      return CompareLists(a->elements, b->elements);
    case rdb::ValueType::kSet:
      std::sort(a->elements.begin(), a->elements.end());
      std::sort(b->elements.begin(), b->elements.end());
      return CompareSortedMembers(a->elements, b->elements, "member");
    case rdb::ValueType::kHash:
      return CompareHashes(&a->hash, &b->hash);
    case rdb::ValueType::kZset:
      return CompareZsets(&a->zset, &b->zset);
    case rdb::ValueType::kStream:
      return CompareStreams(&a->stream, &b->stream);
  }
  return std::nullopt;
}

}  // namespace kf::verify
