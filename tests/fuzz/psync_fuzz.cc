// libFuzzer target for the PSYNC reply parser and the snapshot framer: any input, split at
// a data-derived point, must parse the same as whole and never crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "source/psync_protocol.h"

namespace {

struct Outcome {
  bool ok = true;
  bool complete = false;
  size_t consumed = 0;
  std::string payload;
};

Outcome RunFramer(kf::ByteView a, kf::ByteView b) {
  kf::source::SnapshotFramer framer;
  Outcome out;
  for (kf::ByteView part : {a, b}) {
    while (!out.complete && !part.empty()) {
      auto step = framer.Parse(part, [&](kf::ByteView p) { out.payload += kf::AsStringView(p); });
      if (!step) {
        out.ok = false;
        return out;
      }
      out.consumed += step->consumed;
      part = part.subspan(step->consumed);
      out.complete = step->complete;
      if (step->consumed == 0) break;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kf::ByteView all(data, size);
  size_t cut = size > 0 ? data[0] % (size + 1) : 0;
  {
    kf::source::PsyncReplyParser whole;
    kf::source::PsyncReplyParser split;
    auto r1 = whole.Parse(all);
    auto r2 = split.Parse(all.first(cut));
    if (r2 && !r2->complete) {
      auto r3 = split.Parse(all.subspan(cut));
      if (r1.has_value() != r3.has_value()) std::abort();
    }
  }
  Outcome whole = RunFramer(all, {});
  Outcome split = RunFramer(all.first(cut), all.subspan(cut));
  if (whole.ok != split.ok) std::abort();
  if (whole.ok && whole.complete && (!split.complete || whole.payload != split.payload)) {
    std::abort();
  }
  return 0;
}
