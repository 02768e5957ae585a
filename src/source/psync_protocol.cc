// PSYNC reply and snapshot framing parsers (see psync_protocol.h for the wire contract).
#include "source/psync_protocol.h"

#include <charconv>
#include <cstring>

namespace kf::source {
namespace {

class ReplicationCategoryImpl : public std::error_category {
 public:
  const char* name() const noexcept override { return "replication"; }
  std::string message(int code) const override {
    switch (static_cast<ReplicationErrc>(code)) {
      case ReplicationErrc::kMalformedReply:
        return "malformed PSYNC reply";
      case ReplicationErrc::kPrimaryError:
        return "the primary refused PSYNC";
      case ReplicationErrc::kRetryLater:
        return "the primary asks to retry later";
      case ReplicationErrc::kMalformedPayload:
        return "malformed snapshot framing";
      case ReplicationErrc::kLinkLost:
        return "replication link lost";
      case ReplicationErrc::kHandshakeRefused:
        return "replication handshake refused";
      case ReplicationErrc::kProtocol:
        return "unexpected bytes in the replication stream";
    }
    return "replication error";
  }
};

bool ParseInt64(std::string_view text, int64_t* out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// Accumulates one "\r\n"-terminated line into `line`, skipping "\n" keepalives that come
// before it. Returns consumed bytes and whether the line is complete (line holds it
// without the CRLF). Errors when the line grows past kMaxStatusLine.
Result<ParseStep> ReadLine(ByteView data, std::string& line, const char* what) {
  ParseStep step;
  for (size_t i = 0; i < data.size(); ++i) {
    char c = static_cast<char>(data[i]);
    ++step.consumed;
    if (c == '\n') {
      if (line.empty()) continue;  // a keepalive newline before the line
      if (line.back() != '\r') {
        return MakeError(ReplicationErrc::kMalformedReply,
                         std::string(what) + " line is not terminated by CRLF");
      }
      line.pop_back();
      step.complete = true;
      return step;
    }
    line.push_back(c);
    if (line.size() > kMaxStatusLine) {
      return MakeError(ReplicationErrc::kMalformedReply,
                       std::string(what) + " line is longer than " +
                           std::to_string(kMaxStatusLine) + " bytes; is this a Redis primary?");
    }
  }
  return step;
}

}  // namespace

const std::error_category& ReplicationCategory() {
  static ReplicationCategoryImpl category;
  return category;
}

Result<ParseStep> PsyncReplyParser::Parse(ByteView data) {
  auto step = ReadLine(data, line_, "PSYNC reply");
  if (!step || !step->complete) return step;
  std::string_view line = line_;
  if (line.starts_with("+FULLRESYNC")) {
    // +FULLRESYNC <replid> <offset>
    std::string_view rest = line.substr(std::strlen("+FULLRESYNC"));
    if (!rest.starts_with(' ')) goto malformed;
    rest.remove_prefix(1);
    size_t space = rest.find(' ');
    if (space == std::string_view::npos || space == 0) goto malformed;
    reply_.kind = PsyncReply::Kind::kFullResync;
    reply_.replid = std::string(rest.substr(0, space));
    if (!ParseInt64(rest.substr(space + 1), &reply_.offset) || reply_.offset < 0) goto malformed;
    return step;
  }
  if (line.starts_with("+CONTINUE")) {
    std::string_view rest = line.substr(std::strlen("+CONTINUE"));
    reply_.kind = PsyncReply::Kind::kContinue;
    if (rest.starts_with(' ')) rest.remove_prefix(1);
    reply_.replid = std::string(rest);
    return step;
  }
  if (line.starts_with("-LOADING") || line.starts_with("-NOMASTERLINK") ||
      line.starts_with("-MASTERDOWN")) {
    return MakeError(ReplicationErrc::kRetryLater, "the primary answered PSYNC with \"" +
                                                       std::string(line.substr(1)) +
                                                       "\"; keyferry retries after a pause");
  }
  if (line.starts_with("-")) {
    return MakeError(
        ReplicationErrc::kPrimaryError,
        "the primary refused PSYNC: \"" + std::string(line.substr(1)) +
            "\". If this is a managed service that does not allow replication, "
            "run keyferry sync with --source-mode scan; if it is an ACL, grant +psync +replconf");
  }
malformed:
  return MakeError(ReplicationErrc::kMalformedReply,
                   "unexpected PSYNC reply \"" + Printable(AsBytes(line)) +
                       "\"; expected +FULLRESYNC <replid> <offset> or +CONTINUE");
}

Result<ParseStep> SnapshotFramer::ParseHeader(ByteView data) {
  auto step = ReadLine(data, header_, "snapshot header");
  if (!step) {
    return MakeError(ReplicationErrc::kMalformedPayload, step.error().message);
  }
  if (!step->complete) return step;
  std::string_view header = header_;
  if (!header.starts_with('$')) {
    return MakeError(
        ReplicationErrc::kMalformedPayload,
        "snapshot header \"" + Printable(AsBytes(header)) + "\" does not start with '$'");
  }
  header.remove_prefix(1);
  if (header.starts_with("EOF:")) {
    header.remove_prefix(4);
    if (header.size() != kEofMarkLength) {
      return MakeError(
          ReplicationErrc::kMalformedPayload,
          "diskless snapshot mark has " + std::to_string(header.size()) + " bytes, expected 40");
    }
    mark_ = std::string(header);
    mode_ = Mode::kEofMarked;
    return step;
  }
  int64_t len = 0;
  if (!ParseInt64(header, &len) || len < 0) {
    return MakeError(ReplicationErrc::kMalformedPayload,
                     "snapshot length \"" + Printable(AsBytes(header)) + "\" is not a number");
  }
  announced_ = remaining_ = static_cast<uint64_t>(len);
  mode_ = Mode::kSized;
  return step;
}

}  // namespace kf::source
