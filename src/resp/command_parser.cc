// CommandParser and Command: see command_parser.h / command.h. Arguments are appended into
// one reused byte buffer with (offset, length) pairs, so a command costs no allocation
// once the buffers have grown to the stream's usual command size.
#include "resp/command_parser.h"

#include <algorithm>
#include <string>

#include "resp/numbers.h"

namespace kf::resp {
namespace {

constexpr size_t kMaxHeaderLine = 32;  // "*N" / "$N": 20 digits and a sign fit easily

bool IsInlineSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Quoted(std::string_view s) { return "\"" + Printable(s, 40) + "\""; }

}  // namespace

bool Command::ArgEquals(size_t i, std::string_view word) const {
  if (i >= args_.size()) return false;
  std::string_view a = arg_view(i);
  if (a.size() != word.size()) return false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (Lower(a[k]) != Lower(word[k])) return false;
  }
  return true;
}

std::string Command::ToString(size_t max_arg_len) const {
  std::string out;
  for (size_t i = 0; i < args_.size(); ++i) {
    if (i > 0) out += ' ';
    out += Printable(arg(i), max_arg_len);
  }
  return out;
}

Command Command::FromArgs(const std::vector<std::string>& args) {
  Command c;
  for (const auto& a : args) {
    c.args_.emplace_back(c.data_.size(), a.size());
    c.data_ += a;
  }
  return c;
}

void CommandParser::Reset() {
  state_ = State::kStart;
  line_.Reset();
  cmd_.Clear();
  args_left_ = 0;
  bulk_remaining_ = 0;
  crlf_seen_ = 0;
  cmd_start_ = 0;
  token_start_ = 0;
  offset_ = 0;
  error_ = Error();
}

ParseOutcome CommandParser::Fail(RespErrc code, uint64_t at, std::string what) {
  state_ = State::kFailed;
  error_ = Error{make_error_code(code), "malformed RESP command at stream offset " +
                                            std::to_string(at) + " (command starting at offset " +
                                            std::to_string(cmd_start_) + "): " + what +
                                            "; the stream cannot be resynchronised, reconnect"};
  ParseOutcome out;
  out.status = ParseStatus::kMalformed;
  out.error = error_;
  return out;
}

void CommandParser::SplitInline(std::string_view line) {
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsInlineSpace(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !IsInlineSpace(line[i])) ++i;
    if (i > start) {
      cmd_.args_.emplace_back(cmd_.data_.size(), i - start);
      cmd_.data_.append(line.data() + start, i - start);
    }
  }
}

ParseOutcome CommandParser::Feed(ByteView data) {
  const uint8_t* begin = data.data();
  const uint8_t* p = begin;
  const uint8_t* end = begin + data.size();
  auto at = [&](const uint8_t* q) { return offset_ + static_cast<uint64_t>(q - begin); };
  auto finish = [&](ParseStatus status) {
    ParseOutcome out;
    out.status = status;
    out.consumed = static_cast<size_t>(p - begin);
    offset_ += out.consumed;
    return out;
  };
  auto fail = [&](RespErrc code, uint64_t where, std::string what) {
    ParseOutcome out = Fail(code, where, std::move(what));
    out.consumed = static_cast<size_t>(p - begin);
    offset_ += out.consumed;
    return out;
  };
  auto complete = [&]() {
    cmd_.wire_size_ = static_cast<size_t>(at(p) - cmd_start_);
    state_ = State::kStart;
    return finish(ParseStatus::kComplete);
  };
  // Reads a header line; returns true with *line set, or false with *out set.
  auto header = [&](std::string_view* line, ParseOutcome* out) {
    switch (line_.Take(&p, end, kMaxHeaderLine, LineReader::Mode::kCrlf, line)) {
      case LineReader::Status::kLine:
        return true;
      case LineReader::Status::kNeedMore:
        *out = finish(ParseStatus::kNeedMore);
        return false;
      case LineReader::Status::kTooLong:
        *out = fail(RespErrc::kBadLength, token_start_,
                    "length header longer than " + std::to_string(kMaxHeaderLine) +
                        " bytes without \\r\\n");
        return false;
      case LineReader::Status::kMissingCr:
        *out = fail(RespErrc::kMissingCrlf, at(p),
                    "expected \\n after \\r ending the header that started at offset " +
                        std::to_string(token_start_));
        return false;
    }
    return false;
  };

  for (;;) {
    switch (state_) {
      case State::kFailed: {
        ParseOutcome out;
        out.status = ParseStatus::kMalformed;
        out.error = error_;
        return out;
      }
      case State::kStart:
        if (p == end) return finish(ParseStatus::kNeedMore);
        cmd_.Clear();
        cmd_start_ = at(p);
        token_start_ = cmd_start_;
        if (*p == '*') {
          ++p;
          state_ = State::kMultibulkHeader;
        } else {
          state_ = State::kInline;
          cmd_.inline_ = true;
        }
        break;
      case State::kInline: {
        std::string_view line;
        switch (
            line_.Take(&p, end, limits_.max_inline_len, LineReader::Mode::kLfOptionalCr, &line)) {
          case LineReader::Status::kNeedMore:
            return finish(ParseStatus::kNeedMore);
          case LineReader::Status::kTooLong:
          case LineReader::Status::kMissingCr:
            return fail(RespErrc::kLineTooLong, cmd_start_,
                        "inline command longer than " + std::to_string(limits_.max_inline_len) +
                            " bytes without a newline (Limits::max_inline_len)");
          case LineReader::Status::kLine:
            break;
        }
        SplitInline(line);
        return complete();
      }
      case State::kMultibulkHeader: {
        std::string_view line;
        ParseOutcome out;
        if (!header(&line, &out)) return out;
        int64_t n = 0;
        IntParse r = ParseInt64(line, &n);
        if (r != IntParse::kOk) {
          return fail(RespErrc::kBadLength, token_start_,
                      "expected a decimal argument count after '*', got " + Quoted(line));
        }
        if (n == 0 || n == -1) return complete();  // an empty command, as Redis accepts it
        if (n < 0) {
          return fail(RespErrc::kBadLength, token_start_,
                      "negative argument count " + std::to_string(n) + " after '*'");
        }
        if (static_cast<uint64_t>(n) > limits_.max_aggregate_len) {
          return fail(RespErrc::kAggregateTooLong, token_start_,
                      "command claims " + std::to_string(n) + " arguments, over the limit of " +
                          std::to_string(limits_.max_aggregate_len) +
                          " (Limits::max_aggregate_len)");
        }
        args_left_ = static_cast<uint64_t>(n);
        state_ = State::kBulkType;
        break;
      }
      case State::kBulkType:
        if (p == end) return finish(ParseStatus::kNeedMore);
        if (*p != '$') {
          return fail(RespErrc::kBadCommand, at(p),
                      "expected '$' starting a bulk argument, got " +
                          Quoted(std::string_view(reinterpret_cast<const char*>(p), 1)));
        }
        token_start_ = at(p);
        ++p;
        state_ = State::kBulkLength;
        break;
      case State::kBulkLength: {
        std::string_view line;
        ParseOutcome out;
        if (!header(&line, &out)) return out;
        int64_t len = 0;
        IntParse r = ParseInt64(line, &len);
        if (r != IntParse::kOk || len < 0) {
          return fail(RespErrc::kBadLength, token_start_,
                      "expected a non-negative decimal length after '$', got " + Quoted(line));
        }
        if (static_cast<uint64_t>(len) > limits_.max_bulk_len) {
          return fail(RespErrc::kBulkTooLong, token_start_,
                      "argument length " + std::to_string(len) + " exceeds the limit of " +
                          std::to_string(limits_.max_bulk_len) + " bytes (Limits::max_bulk_len)");
        }
        cmd_.args_.emplace_back(cmd_.data_.size(), static_cast<size_t>(len));
        bulk_remaining_ = static_cast<uint64_t>(len);
        crlf_seen_ = 0;
        state_ = len == 0 ? State::kBulkCrlf : State::kBulkBody;
        break;
      }
      case State::kBulkBody: {
        if (p == end) return finish(ParseStatus::kNeedMore);
        size_t n = static_cast<size_t>(
            std::min<uint64_t>(bulk_remaining_, static_cast<uint64_t>(end - p)));
        cmd_.data_.append(reinterpret_cast<const char*>(p), n);
        p += n;
        bulk_remaining_ -= n;
        if (bulk_remaining_ == 0) state_ = State::kBulkCrlf;
        break;
      }
      case State::kBulkCrlf: {
        if (p == end) return finish(ParseStatus::kNeedMore);
        char want = crlf_seen_ == 0 ? '\r' : '\n';
        if (*p != want) {
          return fail(RespErrc::kMissingCrlf, at(p),
                      std::string("expected ") + (want == '\r' ? "\\r" : "\\n") +
                          " after the argument whose header started at offset " +
                          std::to_string(token_start_));
        }
        ++p;
        if (++crlf_seen_ < 2) break;
        if (--args_left_ == 0) return complete();
        state_ = State::kBulkType;
        break;
      }
    }
  }
}

}  // namespace kf::resp
