// libFuzzer target for source::ReplicationDecoder: any bytes after a FULLRESYNC or a
// CONTINUE (chosen by the first byte), fed whole and split at a data-derived point, must
// give the same events and the same verdict, and never crash or read past the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "source/replication_decoder.h"

namespace {

// Every event as text, in order; the decoder's verdict at the end.
class Recorder : public kf::source::ReplicationEvents {
 public:
  kf::Result<void> OnSnapshotStart(std::optional<uint64_t> size) override {
    log += "start " + (size ? std::to_string(*size) : std::string("eof")) + "\n";
    return {};
  }
  kf::Result<void> OnSnapshotBytes(kf::ByteView rdb) override {
    log.append(kf::AsStringView(rdb));  // joined: the split must not change the bytes
    return {};
  }
  kf::Result<void> OnSnapshotEnd(uint64_t bytes) override {
    log += "\nend " + std::to_string(bytes) + "\n";
    return {};
  }
  kf::Result<void> OnCommand(const kf::resp::Command& cmd, int64_t end) override {
    log += "cmd " + std::to_string(cmd.argc()) + " " + std::to_string(end) + "\n";
    return {};
  }
  kf::Result<void> OnAckRequest(int64_t end) override {
    log += "ack " + std::to_string(end) + "\n";
    return {};
  }
  std::string log;
};

std::string Run(bool snapshot, kf::ByteView a, kf::ByteView b) {
  kf::source::ReplicationDecoder decoder;
  if (snapshot) {
    decoder.StartSnapshot(100);
  } else {
    decoder.StartStream(100);
  }
  Recorder events;
  for (kf::ByteView part : {a, b}) {
    while (!part.empty()) {
      auto used = decoder.Feed(part, events);
      if (!used) return events.log + "error";
      if (*used > part.size()) std::abort();
      if (*used == 0) break;  // nothing more it can take from this piece
      part = part.subspan(*used);
    }
  }
  return events.log + "ok " + std::to_string(decoder.offset());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool snapshot = (data[0] & 1) != 0;
  kf::ByteView all(data + 1, size - 1);
  const size_t cut = all.empty() ? 0 : data[0] % (all.size() + 1);
  if (Run(snapshot, all, {}) != Run(snapshot, all.first(cut), all.subspan(cut))) std::abort();
  return 0;
}
