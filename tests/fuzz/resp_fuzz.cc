// libFuzzer target for the RESP parsers. The input (after a first byte that picks a split
// point) is fed to the reply parser and to the command parser twice: whole, and in two
// pieces cut at the data-derived point; both ways must produce the same messages, the same
// message boundaries and the same error. Small limits keep the search in interesting depths.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "resp/command_parser.h"
#include "resp/reply_parser.h"

namespace {

using kf::ByteView;
using kf::resp::ParseOutcome;

struct Trace {
  std::vector<std::string> messages;  // rendered
  std::vector<uint64_t> ends;
  int error = 0;
  std::string error_message;
  bool operator==(const Trace&) const = default;
};

std::string Render(const kf::resp::Reply& r) { return r.ToString(1 << 20); }
std::string Render(const kf::resp::Command& c) {
  std::string out = std::to_string(c.wire_size()) + (c.is_inline() ? "i" : "m");
  for (size_t i = 0; i < c.argc(); ++i) {
    out += '|';
    out.append(c.arg_view(i));
  }
  return out;
}

template <typename Parser>
Trace Run(ByteView data, size_t cut, const kf::resp::Limits& limits) {
  Parser parser(limits);
  Trace t;
  ByteView pieces[2] = {data.subspan(0, cut), data.subspan(cut)};
  for (ByteView chunk : pieces) {
    while (!chunk.empty()) {
      ParseOutcome out = parser.Feed(chunk);
      if (out.consumed > chunk.size()) std::abort();
      chunk = chunk.subspan(out.consumed);
      if (out.complete()) {
        if constexpr (std::is_same_v<Parser, kf::resp::ReplyParser>) {
          t.messages.push_back(Render(parser.TakeReply()));
        } else {
          t.messages.push_back(Render(parser.command()));
          if (parser.command().wire_size() == 0) std::abort();  // every command takes bytes
        }
        t.ends.push_back(parser.offset());
      } else if (out.malformed()) {
        t.error = out.error.code.value();
        t.error_message = out.error.message;
        if (t.error == 0 || t.error_message.empty()) std::abort();
        return t;
      } else {
        if (!chunk.empty()) std::abort();  // need-more consumes everything
        break;
      }
    }
  }
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ByteView input(data + 1, size - 1);
  size_t cut = input.empty() ? 0 : data[0] % (input.size() + 1);
  kf::resp::Limits limits;
  limits.max_bulk_len = 1 << 16;
  limits.max_aggregate_len = 1 << 16;
  limits.max_depth = 16;
  limits.max_inline_len = 1024;

  if (Run<kf::resp::ReplyParser>(input, 0, limits) !=
      Run<kf::resp::ReplyParser>(input, cut, limits)) {
    std::abort();
  }
  if (Run<kf::resp::CommandParser>(input, 0, limits) !=
      Run<kf::resp::CommandParser>(input, cut, limits)) {
    std::abort();
  }
  return 0;
}
