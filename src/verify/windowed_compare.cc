// Windowed comparison of big values (see windowed_compare.h).
//
// Every step reads one window from each end (or a page from the source and the matching
// lookups on the target), compares it and drops it before the next one. A reply that says
// the key changed under the read (WRONGTYPE, "no such key") ends the compare of this key
// with a difference for the next round to re-check; any other error reply is fatal.
#include "verify/windowed_compare.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <vector>

#include "common/bytes.h"
#include "rdb/value.h"
#include "verify/value_compare.h"
#include "verify/verify_errc.h"

namespace kf::verify {
namespace {

using resp::Reply;
using resp::ReplyType;

// The outcome of one step: nullopt = equal so far, a string = the difference found.
using Step = Result<std::optional<std::string>>;

// Evaluates a Step and returns from the enclosing Step function on an error or a
// difference; goes on when equal so far.
#define KF_STEP(expr)                                                   \
  do {                                                                  \
    auto kf_step_ = (expr);                                             \
    if (!kf_step_) return ::kf::MakeError(std::move(kf_step_).error()); \
    if (*kf_step_) return kf_step_;                                     \
  } while (0)

std::optional<rdb::StreamId> ParseStreamId(std::string_view text) {
  rdb::StreamId id;
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto a = std::from_chars(text.data(), text.data() + dash, id.ms);
  auto b = std::from_chars(text.data() + dash + 1, text.data() + text.size(), id.seq);
  if (a.ec != std::errc() || a.ptr != text.data() + dash || b.ec != std::errc() ||
      b.ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return id;
}

class WindowedComparer {
 public:
  WindowedComparer(Endpoint& source, Endpoint& target, const std::string& key,
                   const VerifyOptions& options)
      : s_(source), t_(target), key_(key), o_(options) {}

  Step Run(std::string_view type) {
    if (type == "string") return Strings();
    if (type == "list") return Lists();
    if (type == "set") return Sets();
    if (type == "hash") return Hashes();
    if (type == "zset") return Zsets();
    if (type == "stream") return Streams();
    return MakeError(VerifyErrc::kUnexpectedReply,
                     "key \"" + Printable(key_, 80) + "\" has type " + Printable(type, 40) +
                         " (a module type?), which verify cannot read in windows; exclude it "
                         "with --exclude or raise the big-value threshold so it is compared "
                         "through DUMP");
  }

 private:
  // Checks an error reply: nullopt = not an error; a difference when the key changed under
  // the read; a fatal error otherwise.
  Step Inspect(const Endpoint& e, const Reply& r, std::string_view command) {
    if (!r.is_error()) return std::optional<std::string>();
    if (IsKeyChangedError(r)) {
      return std::optional<std::string>("changed during the compare (" + e.role() + ": " +
                                        Printable(r.str(), 80) + ")");
    }
    return MakeError(e.ReplyError(r, command, key_));
  }

  Result<std::pair<Reply, Reply>> Both(const Command& cs, const Command& ct,
                                       std::string_view what) {
    auto replies = RunBoth(s_, {cs}, t_, {ct}, what);
    if (!replies) return MakeError(std::move(replies).error());
    return std::make_pair(std::move(replies->first[0]), std::move(replies->second[0]));
  }

  Result<Reply> One(Endpoint& e, const Command& c, std::string_view what) {
    return e.Call(c, what);
  }

  // Integer replies of the same command on both ends (a length or a cardinality).
  Result<std::optional<std::pair<int64_t, int64_t>>> Lengths(const std::string& command,
                                                             std::string* difference) {
    auto r = Both({command, key_}, {command, key_}, command);
    if (!r) return MakeError(std::move(r).error());
    for (auto [e, reply] : {std::pair{&s_, &r->first}, std::pair{&t_, &r->second}}) {
      auto checked = Inspect(*e, *reply, command);
      if (!checked) return MakeError(std::move(checked).error());
      if (*checked) {
        *difference = **checked;
        return std::optional<std::pair<int64_t, int64_t>>();
      }
      if (reply->type() != ReplyType::kInteger)
        return MakeError(e->ShapeError(*reply, command, key_));
    }
    return std::optional<std::pair<int64_t, int64_t>>({r->first.integer(), r->second.integer()});
  }

  Step Strings() {
    std::string diff;
    auto lens = Lengths("STRLEN", &diff);
    if (!lens) return MakeError(std::move(lens).error());
    if (!*lens) return std::optional<std::string>(diff);
    auto [ls, lt] = **lens;
    if (ls != lt) return Differ("length " + std::to_string(ls) + " vs " + std::to_string(lt));
    const int64_t w = static_cast<int64_t>(o_.window_bytes);
    for (int64_t off = 0; off < ls; off += w) {
      std::string from = std::to_string(off), to = std::to_string(std::min(off + w, ls) - 1);
      auto r = Both({"GETRANGE", key_, from, to}, {"GETRANGE", key_, from, to}, "GETRANGE");
      if (!r) return MakeError(std::move(r).error());
      KF_STEP(Inspect(s_, r->first, "GETRANGE"));
      KF_STEP(Inspect(t_, r->second, "GETRANGE"));
      const std::string& a = r->first.str();
      const std::string& b = r->second.str();
      if (a != b) {
        size_t at = 0;
        while (at < a.size() && at < b.size() && a[at] == b[at]) ++at;
        return Differ("bytes differ from offset " + std::to_string(off + static_cast<int64_t>(at)));
      }
    }
    return Equal();
  }

  Step Lists() {
    std::string diff;
    auto lens = Lengths("LLEN", &diff);
    if (!lens) return MakeError(std::move(lens).error());
    if (!*lens) return std::optional<std::string>(diff);
    auto [ls, lt] = **lens;
    if (ls != lt) return Differ("length " + std::to_string(ls) + " vs " + std::to_string(lt));
    const int64_t w = static_cast<int64_t>(o_.window_elements);
    for (int64_t off = 0; off < ls; off += w) {
      std::string from = std::to_string(off), to = std::to_string(std::min(off + w, ls) - 1);
      auto r = Both({"LRANGE", key_, from, to}, {"LRANGE", key_, from, to}, "LRANGE");
      if (!r) return MakeError(std::move(r).error());
      KF_STEP(Inspect(s_, r->first, "LRANGE"));
      KF_STEP(Inspect(t_, r->second, "LRANGE"));
      const auto& a = r->first.children();
      const auto& b = r->second.children();
      size_t n = std::min(a.size(), b.size());
      for (size_t i = 0; i < n; ++i) {
        if (a[i].str() != b[i].str()) {
          return Differ("element " + std::to_string(off + static_cast<int64_t>(i)) + ": " +
                        Shown(a[i].str()) + " vs " + Shown(b[i].str()));
        }
      }
      if (a.size() != b.size()) return Differ("length changed during the compare");
    }
    return Equal();
  }

  // Parses a SCAN-family reply of the source: fills `items` and advances `cursor`.
  Step ParseScanPage(Reply& r, const std::string& command, std::string* cursor,
                     std::vector<Reply>* items) {
    KF_STEP(Inspect(s_, r, command));
    if (r.type() != ReplyType::kArray || r.size() != 2 || !r[0].is_string() ||
        !r[1].is_aggregate()) {
      return MakeError(s_.ShapeError(r, command, key_));
    }
    *cursor = r[0].str();
    *items = std::move(r.mutable_children()[1].mutable_children());
    return Equal();
  }

  // Walks the source with `scan` (SSCAN / HSCAN / ZSCAN; `stride` reply items per element)
  // and looks each page's members up on the target with `lookup` (one reply element per
  // member); `check(items, reply)` compares a page. The source reads the next page while
  // the target answers the lookup of the current one. Both replies are always read before
  // returning, so no reply is left on either connection.
  template <typename Check>
  Step ScanAndLookup(const std::string& scan, size_t stride, const std::string& lookup,
                     Check check) {
    const std::string count = std::to_string(o_.window_elements);
    std::string cursor = "0";
    std::vector<Reply> items;
    auto first = One(s_, {scan, key_, cursor, "COUNT", count}, scan);
    if (!first) return MakeError(std::move(first).error());
    KF_STEP(ParseScanPage(*first, scan, &cursor, &items));
    while (true) {
      if (items.size() % stride != 0) return MakeError(s_.ShapeError(Reply(), scan, key_));
      const bool more = cursor != "0";
      const bool has_lookup = !items.empty();
      if (has_lookup) {
        Command command = {lookup, key_};
        command.reserve(2 + items.size() / stride);
        for (size_t i = 0; i < items.size(); i += stride) command.push_back(items[i].str());
        KF_RETURN_IF_ERROR(t_.Send({command}, lookup));
      }
      if (more) KF_RETURN_IF_ERROR(s_.Send({{scan, key_, cursor, "COUNT", count}}, scan));
      Result<std::vector<Reply>> next, looked_up;
      if (more) next = s_.Receive(1, scan);
      if (has_lookup) looked_up = t_.Receive(1, lookup);
      if (more && !next) return MakeError(std::move(next).error());
      if (has_lookup) {
        if (!looked_up) return MakeError(std::move(looked_up).error());
        const Reply& r = (*looked_up)[0];
        KF_STEP(Inspect(t_, r, lookup));
        if (!r.is_aggregate() || r.size() != items.size() / stride) {
          return MakeError(t_.ShapeError(r, lookup, key_));
        }
        KF_STEP(check(items, r));
      }
      if (!more) return Equal();
      KF_STEP(ParseScanPage((*next)[0], scan, &cursor, &items));
    }
  }

  Step Sets() {
    std::string diff;
    auto lens = Lengths("SCARD", &diff);
    if (!lens) return MakeError(std::move(lens).error());
    if (!*lens) return std::optional<std::string>(diff);
    auto [ls, lt] = **lens;
    if (ls != lt) return Differ("members " + std::to_string(ls) + " vs " + std::to_string(lt));
    return ScanAndLookup(
        "SSCAN", 1, "SMISMEMBER", [](const std::vector<Reply>& items, const Reply& r) -> Step {
          for (size_t i = 0; i < items.size(); ++i) {
            if (r[i].integer() != 1) {
              return Differ("member " + Shown(items[i].str()) + " missing on target");
            }
          }
          return Equal();
        });
  }

  Step Hashes() {
    std::string diff;
    auto lens = Lengths("HLEN", &diff);
    if (!lens) return MakeError(std::move(lens).error());
    if (!*lens) return std::optional<std::string>(diff);
    auto [ls, lt] = **lens;
    if (ls != lt) return Differ("fields " + std::to_string(ls) + " vs " + std::to_string(lt));
    return ScanAndLookup("HSCAN", 2, "HMGET",
                         [](const std::vector<Reply>& items, const Reply& r) -> Step {
                           for (size_t i = 0; i < r.size(); ++i) {
                             const std::string& field = items[2 * i].str();
                             const std::string& value = items[2 * i + 1].str();
                             if (r[i].is_null())
                               return Differ("field " + Shown(field) + " missing on target");
                             if (r[i].str() != value) {
                               return Differ("field " + Shown(field) + ": " + Shown(value) +
                                             " vs " + Shown(r[i].str()));
                             }
                           }
                           return Equal();
                         });
  }

  static std::optional<double> ScoreOf(const Reply& r) {
    if (r.type() == ReplyType::kDouble) return r.dbl();
    if (r.is_string() && !r.is_error()) return ParseScore(r.str());
    return std::nullopt;
  }

  Step Zsets() {
    std::string diff;
    auto lens = Lengths("ZCARD", &diff);
    if (!lens) return MakeError(std::move(lens).error());
    if (!*lens) return std::optional<std::string>(diff);
    auto [ls, lt] = **lens;
    if (ls != lt) return Differ("members " + std::to_string(ls) + " vs " + std::to_string(lt));
    return ScanAndLookup("ZSCAN", 2, "ZMSCORE",
                         [this](const std::vector<Reply>& items, const Reply& r) -> Step {
                           for (size_t i = 0; i < r.size(); ++i) {
                             const std::string& member = items[2 * i].str();
                             if (r[i].is_null())
                               return Differ("member " + Shown(member) + " missing on target");
                             auto a = ScoreOf(items[2 * i + 1]);
                             if (!a)
                               return MakeError(s_.ShapeError(items[2 * i + 1], "ZSCAN", key_));
                             auto b = ScoreOf(r[i]);
                             if (!b) return MakeError(t_.ShapeError(r[i], "ZMSCORE", key_));
                             // IEEE ==: the two servers print the same double differently.
                             if (!(*a == *b)) {
                               return Differ("member " + Shown(member) + ": score " +
                                             ScoreText(*a) + " vs " + ScoreText(*b));
                             }
                           }
                           return Equal();
                         });
  }

  // --- streams ---

  struct GroupInfo {
    std::string name;
    std::string last_delivered;
    int64_t entries_read = -1;  // nil (not tracked) = -1, as in the RDB
  };

  Result<std::vector<GroupInfo>> Groups(const Endpoint& e, const Reply& r) {
    if (!r.is_aggregate()) return MakeError(e.ShapeError(r, "XINFO GROUPS", key_));
    std::vector<GroupInfo> out;
    for (const auto& g : r.children()) {
      const Reply* name = FieldOf(g, "name");
      const Reply* last = FieldOf(g, "last-delivered-id");
      if (!name || !last || !name->is_string() || !last->is_string()) {
        return MakeError(e.ShapeError(g, "XINFO GROUPS", key_));
      }
      GroupInfo info{name->str(), last->str(), -1};
      const Reply* read = FieldOf(g, "entries-read");
      if (read && read->type() == ReplyType::kInteger) info.entries_read = read->integer();
      out.push_back(std::move(info));
    }
    std::sort(out.begin(), out.end(),
              [](const GroupInfo& a, const GroupInfo& b) { return a.name < b.name; });
    return out;
  }

  Step StreamEntries() {
    std::string start = "-";
    const std::string count = std::to_string(o_.window_elements);
    while (true) {
      auto r = Both({"XRANGE", key_, start, "+", "COUNT", count},
                    {"XRANGE", key_, start, "+", "COUNT", count}, "XRANGE");
      if (!r) return MakeError(std::move(r).error());
      KF_STEP(Inspect(s_, r->first, "XRANGE"));
      KF_STEP(Inspect(t_, r->second, "XRANGE"));
      const auto& a = r->first.children();
      const auto& b = r->second.children();
      size_t n = std::min(a.size(), b.size());
      for (size_t i = 0; i < n; ++i) {
        if (a[i].size() != 2 || b[i].size() != 2)
          return MakeError(s_.ShapeError(a[i], "XRANGE", key_));
        const std::string& ia = a[i][0].str();
        const std::string& ib = b[i][0].str();
        if (ia != ib) {
          auto pa = ParseStreamId(ia), pb = ParseStreamId(ib);
          bool source_first = pa && pb && *pa < *pb;
          return Differ("entry " + Printable(source_first ? ia : ib, 40) +
                        (source_first ? " missing on target" : " only on target"));
        }
        if (!(a[i][1] == b[i][1])) return Differ("entry " + Printable(ia, 40) + ": fields differ");
      }
      if (a.size() != b.size()) {
        bool source_longer = a.size() > b.size();
        const auto& longer = source_longer ? a : b;
        return Differ("entry " + Printable(longer[n].size() == 2 ? longer[n][0].str() : "?", 40) +
                      (source_longer ? " missing on target" : " only on target"));
      }
      if (a.size() < o_.window_elements) return Equal();
      start = "(" + a.back()[0].str();
    }
  }

  Step PendingEntries(const std::string& group) {
    std::string start = "-";
    const std::string count = std::to_string(o_.window_elements);
    const std::string g = "group " + Shown(group) + ": ";
    while (true) {
      auto r = Both({"XPENDING", key_, group, start, "+", count},
                    {"XPENDING", key_, group, start, "+", count}, "XPENDING");
      if (!r) return MakeError(std::move(r).error());
      KF_STEP(Inspect(s_, r->first, "XPENDING"));
      KF_STEP(Inspect(t_, r->second, "XPENDING"));
      const auto& a = r->first.children();
      const auto& b = r->second.children();
      size_t n = std::min(a.size(), b.size());
      for (size_t i = 0; i < n; ++i) {
        if (a[i].size() != 4) return MakeError(s_.ShapeError(a[i], "XPENDING", key_));
        if (b[i].size() != 4) return MakeError(t_.ShapeError(b[i], "XPENDING", key_));
        const std::string& ia = a[i][0].str();
        const std::string& ib = b[i][0].str();
        if (ia != ib) {
          auto pa = ParseStreamId(ia), pb = ParseStreamId(ib);
          bool source_first = pa && pb && *pa < *pb;
          return Differ(g + "pending entry " + Printable(source_first ? ia : ib, 40) +
                        (source_first ? " missing on target" : " only on target"));
        }
        if (a[i][1].str() != b[i][1].str()) {
          return Differ(g + "pending entry " + Printable(ia, 40) + " owned by " +
                        Shown(a[i][1].str()) + " vs " + Shown(b[i][1].str()));
        }
        // [2] is the idle time: a clock of each server, not compared.
        if (a[i][3].integer() != b[i][3].integer()) {
          return Differ(g + "pending entry " + Printable(ia, 40) + " delivery count " +
                        std::to_string(a[i][3].integer()) + " vs " +
                        std::to_string(b[i][3].integer()));
        }
      }
      if (a.size() != b.size()) {
        bool source_longer = a.size() > b.size();
        const auto& longer = source_longer ? a : b;
        return Differ(g + "pending entry " +
                      Printable(longer[n].size() == 4 ? longer[n][0].str() : "?", 40) +
                      (source_longer ? " missing on target" : " only on target"));
      }
      if (a.size() < o_.window_elements) return Equal();
      start = "(" + a.back()[0].str();
    }
  }

  Result<std::vector<std::string>> ConsumerNames(const Endpoint& e, const Reply& r) {
    if (!r.is_aggregate()) return MakeError(e.ShapeError(r, "XINFO CONSUMERS", key_));
    std::vector<std::string> names;
    for (const auto& c : r.children()) {
      const Reply* name = FieldOf(c, "name");
      if (!name || !name->is_string()) return MakeError(e.ShapeError(c, "XINFO CONSUMERS", key_));
      names.push_back(name->str());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  Step Streams() {
    KF_STEP(StreamEntries());
    auto info = Both({"XINFO", "STREAM", key_}, {"XINFO", "STREAM", key_}, "XINFO STREAM");
    if (!info) return MakeError(std::move(info).error());
    KF_STEP(Inspect(s_, info->first, "XINFO STREAM"));
    KF_STEP(Inspect(t_, info->second, "XINFO STREAM"));
    struct Meta {
      const char* field;
      const char* title;
    };
    for (Meta m : {Meta{"length", "entries"}, Meta{"last-generated-id", "last id"},
                   Meta{"max-deleted-entry-id", "max deleted id"},
                   Meta{"entries-added", "entries added"}, Meta{"groups", "groups"}}) {
      const Reply* a = FieldOf(info->first, m.field);
      const Reply* b = FieldOf(info->second, m.field);
      if (!a || !b) {
        // Older servers lack the 7.0 metadata; "length" and the last id are always there.
        if (std::string_view(m.field) == "length" ||
            std::string_view(m.field) == "last-generated-id") {
          return MakeError(
              (a ? t_ : s_).ShapeError(a ? info->second : info->first, "XINFO STREAM", key_));
        }
        continue;
      }
      if (!(*a == *b))
        return Differ(std::string(m.title) + " " + a->ToString(60) + " vs " + b->ToString(60));
    }
    auto groups = Both({"XINFO", "GROUPS", key_}, {"XINFO", "GROUPS", key_}, "XINFO GROUPS");
    if (!groups) return MakeError(std::move(groups).error());
    KF_STEP(Inspect(s_, groups->first, "XINFO GROUPS"));
    KF_STEP(Inspect(t_, groups->second, "XINFO GROUPS"));
    auto ga = Groups(s_, groups->first);
    if (!ga) return MakeError(std::move(ga).error());
    auto gb = Groups(t_, groups->second);
    if (!gb) return MakeError(std::move(gb).error());
    size_t i = 0, j = 0;
    while (i < ga->size() || j < gb->size()) {
      if (j == gb->size() || (i < ga->size() && (*ga)[i].name < (*gb)[j].name)) {
        return Differ("group " + Shown((*ga)[i].name) + " missing on target");
      }
      if (i == ga->size() || (*gb)[j].name < (*ga)[i].name) {
        return Differ("group " + Shown((*gb)[j].name) + " only on target");
      }
      const auto& x = (*ga)[i];
      const auto& y = (*gb)[j];
      const std::string g = "group " + Shown(x.name) + ": ";
      if (x.last_delivered != y.last_delivered) {
        return Differ(g + "last delivered id " + Printable(x.last_delivered, 40) + " vs " +
                      Printable(y.last_delivered, 40));
      }
      if (x.entries_read != y.entries_read) {
        return Differ(g + "entries read " + std::to_string(x.entries_read) + " vs " +
                      std::to_string(y.entries_read));
      }
      KF_STEP(PendingEntries(x.name));
      auto consumers = Both({"XINFO", "CONSUMERS", key_, x.name},
                            {"XINFO", "CONSUMERS", key_, x.name}, "XINFO CONSUMERS");
      if (!consumers) return MakeError(std::move(consumers).error());
      KF_STEP(Inspect(s_, consumers->first, "XINFO CONSUMERS"));
      KF_STEP(Inspect(t_, consumers->second, "XINFO CONSUMERS"));
      auto ca = ConsumerNames(s_, consumers->first);
      if (!ca) return MakeError(std::move(ca).error());
      auto cb = ConsumerNames(t_, consumers->second);
      if (!cb) return MakeError(std::move(cb).error());
      size_t p = 0, q = 0;
      while (p < ca->size() || q < cb->size()) {
        if (q == cb->size() || (p < ca->size() && (*ca)[p] < (*cb)[q])) {
          return Differ(g + "consumer " + Shown((*ca)[p]) + " missing on target");
        }
        if (p == ca->size() || (*cb)[q] < (*ca)[p]) {
          return Differ(g + "consumer " + Shown((*cb)[q]) + " only on target");
        }
        ++p;
        ++q;
      }
      ++i;
      ++j;
    }
    return Equal();
  }

  static Step Equal() { return std::optional<std::string>(); }
  static Step Differ(std::string detail) { return std::optional<std::string>(std::move(detail)); }

  Endpoint& s_;
  Endpoint& t_;
  const std::string& key_;
  const VerifyOptions& o_;
};

}  // namespace

Result<WindowVerdict> CompareInWindows(Endpoint& source, Endpoint& target, const std::string& key,
                                       std::string_view type, const VerifyOptions& options) {
  WindowedComparer comparer(source, target, key, options);
  auto step = comparer.Run(type);
  if (!step) return MakeError(std::move(step).error());
  WindowVerdict verdict;
  if (*step) {
    verdict.equal = false;
    verdict.detail = std::move(**step);
  }
  return verdict;
}

}  // namespace kf::verify
