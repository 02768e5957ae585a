// CommandEncoder: see encoder.h.
#include "resp/encoder.h"

#include <charconv>
#include <cstring>

namespace kf::resp {
namespace {

// "<type><n>\r\n" into buf; returns the length.
size_t FormatHeader(char type, size_t n, char* buf) {
  buf[0] = type;
  auto [ptr, ec] = std::to_chars(buf + 1, buf + 24, n);
  (void)ec;  // 24 bytes always hold a size_t
  ptr[0] = '\r';
  ptr[1] = '\n';
  return static_cast<size_t>(ptr + 2 - buf);
}

}  // namespace

void CommandEncoder::AppendOwned(const void* p, size_t n) {
  if (n == 0) return;
  size_t offset = owned_.size();
  const auto* bytes = static_cast<const uint8_t*>(p);
  owned_.insert(owned_.end(), bytes, bytes + n);
  if (!pieces_.empty() && pieces_.back().external == nullptr &&
      pieces_.back().offset + pieces_.back().len == offset) {
    pieces_.back().len += n;
  } else {
    pieces_.push_back(Piece{nullptr, offset, n});
  }
  size_ += n;
}

void CommandEncoder::AppendHeader(char type, size_t n) {
  char buf[32];
  AppendOwned(buf, FormatHeader(type, n, buf));
}

void CommandEncoder::AppendArg(ByteView arg) {
  AppendHeader('$', arg.size());
  if (arg.size() >= threshold_ && !arg.empty()) {
    pieces_.push_back(Piece{arg.data(), 0, arg.size()});
    size_ += arg.size();
  } else {
    AppendOwned(arg.data(), arg.size());
  }
  AppendOwned("\r\n", 2);
}

void CommandEncoder::Add(std::span<const ByteView> args) {
  AppendHeader('*', args.size());
  for (ByteView a : args) AppendArg(a);
  ++commands_;
  segments_dirty_ = true;
}

void CommandEncoder::Add(std::initializer_list<std::string_view> args) {
  AppendHeader('*', args.size());
  for (std::string_view a : args) AppendArg(AsBytes(a));
  ++commands_;
  segments_dirty_ = true;
}

void CommandEncoder::Add(const std::vector<std::string>& args) {
  AppendHeader('*', args.size());
  for (const std::string& a : args) AppendArg(AsBytes(a));
  ++commands_;
  segments_dirty_ = true;
}

std::span<const ByteView> CommandEncoder::segments() const {
  if (segments_dirty_) {
    segments_.clear();
    segments_.reserve(pieces_.size());
    for (const Piece& piece : pieces_) {
      const uint8_t* base =
          piece.external != nullptr ? piece.external : owned_.data() + piece.offset;
      segments_.emplace_back(base, piece.len);
    }
    segments_dirty_ = false;
  }
  return segments_;
}

Bytes CommandEncoder::ToBytes() const {
  Bytes out;
  out.reserve(size_);
  for (ByteView seg : segments()) out.insert(out.end(), seg.begin(), seg.end());
  return out;
}

void CommandEncoder::Clear() {
  owned_.clear();
  pieces_.clear();
  segments_.clear();
  segments_dirty_ = false;
  size_ = 0;
  commands_ = 0;
}

void AppendCommand(Bytes* out, std::span<const ByteView> args) {
  char buf[32];
  size_t n = FormatHeader('*', args.size(), buf);
  out->insert(out->end(), buf, buf + n);
  for (ByteView a : args) {
    n = FormatHeader('$', a.size(), buf);
    out->insert(out->end(), buf, buf + n);
    out->insert(out->end(), a.begin(), a.end());
    out->push_back('\r');
    out->push_back('\n');
  }
}

Bytes EncodeCommand(std::span<const ByteView> args) {
  Bytes out;
  AppendCommand(&out, args);
  return out;
}

Bytes EncodeCommand(std::initializer_list<std::string_view> args) {
  std::vector<ByteView> views;
  views.reserve(args.size());
  for (std::string_view a : args) views.push_back(AsBytes(a));
  return EncodeCommand(views);
}

}  // namespace kf::resp
