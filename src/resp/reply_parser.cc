// ReplyParser: see reply_parser.h. A state machine over four states (type byte, line,
// bulk body, bulk terminator) plus a stack of open aggregates; the reply tree is built in
// place, so a completed element is never copied.
#include "resp/reply_parser.h"

#include <algorithm>
#include <string>

#include "resp/numbers.h"

namespace kf::resp {
namespace {

// Lines that hold a number (lengths, integers, doubles, booleans, nulls) are short; a
// longer one is refused without buffering up to max_inline_len.
constexpr size_t kMaxNumberLine = 128;

bool IsStringLine(uint8_t type) { return type == '+' || type == '-' || type == '('; }

std::string Quoted(std::string_view s) { return "\"" + Printable(s, 40) + "\""; }

std::string ByteName(uint8_t c) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  out.push_back(kDigits[c >> 4]);
  out.push_back(kDigits[c & 0xf]);
  if (c >= 0x20 && c < 0x7f) {
    out += " '";
    out.push_back(static_cast<char>(c));
    out += "'";
  }
  return out;
}

}  // namespace

void ReplyParser::Reset() {
  state_ = State::kType;
  line_.Reset();
  bulk_target_ = nullptr;
  bulk_remaining_ = 0;
  crlf_seen_ = 0;
  root_ = Reply();
  stack_.clear();
  pending_attrs_.clear();
  offset_ = 0;
  error_ = Error();
}

size_t ReplyParser::BufferedCapacity() const {
  return line_.capacity() + (bulk_target_ != nullptr ? bulk_target_->capacity() : 0);
}

ParseOutcome ReplyParser::Fail(RespErrc code, uint64_t at, std::string what) {
  state_ = State::kFailed;
  error_ = Error{make_error_code(code), "malformed RESP reply at stream offset " +
                                            std::to_string(at) + ": " + what +
                                            "; the stream cannot be resynchronised, reconnect"};
  bulk_target_ = nullptr;
  ParseOutcome out;
  out.status = ParseStatus::kMalformed;
  out.error = error_;
  return out;
}

Reply* ReplyParser::NewNode(ReplyType type) {
  Reply* node;
  if (stack_.empty()) {
    root_ = Reply(type);
    node = &root_;
  } else {
    node = &stack_.back().node->children_.emplace_back(type);
  }
  if (!pending_attrs_.empty()) {
    node->attributes_ = std::move(pending_attrs_);
    pending_attrs_.clear();
  }
  return node;
}

bool ReplyParser::FinishValue() {
  while (!stack_.empty()) {
    Frame& top = stack_.back();
    if (--top.remaining > 0) return false;
    if (top.owned) {
      // An attribute is complete: it annotates the next value rather than being one.
      auto& kv = top.owned->children_;
      std::move(kv.begin(), kv.end(), std::back_inserter(pending_attrs_));
      stack_.pop_back();
      return false;
    }
    stack_.pop_back();
  }
  return true;
}

ParseOutcome ReplyParser::Feed(ByteView data) {
  if (state_ == State::kFailed) {
    ParseOutcome out;
    out.status = ParseStatus::kMalformed;
    out.error = error_;
    return out;
  }
  const uint8_t* begin = data.data();
  const uint8_t* p = begin;
  const uint8_t* end = begin + data.size();
  auto at = [&](const uint8_t* q) { return offset_ + static_cast<uint64_t>(q - begin); };
  auto done = [&](ParseStatus status) {
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

  for (;;) {
    switch (state_) {
      case State::kType: {
        if (p == end) return done(ParseStatus::kNeedMore);
        uint8_t c = *p;
        switch (c) {
          case '+':
          case '-':
          case ':':
          case '$':
          case '*':
          case '_':
          case ',':
          case '#':
          case '(':
          case '=':
          case '!':
          case '%':
          case '~':
          case '>':
          case '|':
            break;
          case ';':
          case '.':
            return fail(
                RespErrc::kUnsupported, at(p),
                "RESP3 streamed string chunk or end marker (" + ByteName(c) + ") is not supported");
          default:
            return fail(RespErrc::kBadTypeByte, at(p),
                        "expected a RESP type byte (one of + - : $ * _ , # ( = ! % ~ > |), got " +
                            ByteName(c));
        }
        type_byte_ = c;
        token_start_ = at(p);
        ++p;
        state_ = State::kLine;
        break;
      }
      case State::kLine: {
        size_t max_len = IsStringLine(type_byte_) ? limits_.max_inline_len : kMaxNumberLine;
        std::string_view line;
        switch (line_.Take(&p, end, max_len, LineReader::Mode::kCrlf, &line)) {
          case LineReader::Status::kNeedMore:
            return done(ParseStatus::kNeedMore);
          case LineReader::Status::kTooLong:
            return fail(RespErrc::kLineTooLong, token_start_,
                        std::string("line of '") + static_cast<char>(type_byte_) +
                            "' reply is longer than " + std::to_string(max_len) +
                            " bytes without \\r\\n");
          case LineReader::Status::kMissingCr:
            return fail(RespErrc::kMissingCrlf, at(p),
                        "expected \\n after \\r ending the line that started at offset " +
                            std::to_string(token_start_));
          case LineReader::Status::kLine:
            break;
        }
        bool message_done = false;
        if (!OnLine(line, &message_done)) {
          ParseOutcome out;
          out.status = ParseStatus::kMalformed;
          out.error = error_;
          out.consumed = static_cast<size_t>(p - begin);
          offset_ += out.consumed;
          return out;
        }
        if (message_done) return done(ParseStatus::kComplete);
        break;
      }
      case State::kBulkBody: {
        if (p == end) return done(ParseStatus::kNeedMore);
        size_t n = static_cast<size_t>(
            std::min<uint64_t>(bulk_remaining_, static_cast<uint64_t>(end - p)));
        bulk_target_->append(reinterpret_cast<const char*>(p), n);
        p += n;
        bulk_remaining_ -= n;
        if (bulk_remaining_ == 0) {
          state_ = State::kBulkCrlf;
          crlf_seen_ = 0;
        }
        break;
      }
      case State::kBulkCrlf: {
        if (p == end) return done(ParseStatus::kNeedMore);
        char want = crlf_seen_ == 0 ? '\r' : '\n';
        if (*p != want) {
          return fail(RespErrc::kMissingCrlf, at(p),
                      std::string("expected ") + (want == '\r' ? "\\r" : "\\n") +
                          " after the bulk payload that started at offset " +
                          std::to_string(token_start_) + ", got " + ByteName(*p));
        }
        ++p;
        if (++crlf_seen_ < 2) break;
        Reply* node = stack_.empty() ? &root_ : &stack_.back().node->children_.back();
        bulk_target_ = nullptr;
        state_ = State::kType;
        if (bulk_type_ == ReplyType::kVerbatim) {
          if (node->str_.size() < 4 || node->str_[3] != ':') {
            return fail(RespErrc::kBadVerbatim, token_start_,
                        "expected a verbatim string to start with a 3-byte format and ':', got " +
                            Quoted(node->str_));
          }
          node->format_ = node->str_.substr(0, 3);
          node->str_.erase(0, 4);
        }
        if (FinishValue()) return done(ParseStatus::kComplete);
        break;
      }
      case State::kFailed: {  // not reached: OnLine failures return above
        ParseOutcome out = done(ParseStatus::kMalformed);
        out.error = error_;
        return out;
      }
    }
  }
}

bool ReplyParser::OnLine(std::string_view line, bool* message_done) {
  state_ = State::kType;
  auto fail = [&](RespErrc code, std::string what) {
    Fail(code, token_start_, std::move(what));
    return false;
  };
  auto finish_scalar = [&]() {
    *message_done = FinishValue();
    return true;
  };
  const char type = static_cast<char>(type_byte_);
  switch (type) {
    case '+':
    case '-': {
      Reply* node = NewNode(type == '+' ? ReplyType::kSimpleString : ReplyType::kError);
      node->str_ = line;
      return finish_scalar();
    }
    case '(': {
      size_t i = (!line.empty() && (line[0] == '-' || line[0] == '+')) ? 1 : 0;
      bool ok = i < line.size() && std::all_of(line.begin() + i, line.end(),
                                               [](char c) { return c >= '0' && c <= '9'; });
      if (!ok)
        return fail(RespErrc::kBadBigNumber, "expected a big number (digits), got " + Quoted(line));
      NewNode(ReplyType::kBigNumber)->str_ = line;
      return finish_scalar();
    }
    case ':': {
      int64_t v = 0;
      IntParse r = ParseInt64(line, &v);
      if (r != IntParse::kOk) {
        return fail(RespErrc::kBadInteger,
                    std::string(r == IntParse::kOutOfRange ? "integer out of 64-bit range: "
                                                           : "expected a decimal integer, got ") +
                        Quoted(line));
      }
      NewNode(ReplyType::kInteger)->integer_ = v;
      return finish_scalar();
    }
    case ',': {
      double v = 0;
      if (!ParseRespDouble(line, &v)) {
        return fail(RespErrc::kBadDouble,
                    "expected a double (digits, inf, -inf or nan), got " + Quoted(line));
      }
      NewNode(ReplyType::kDouble)->double_ = v;
      return finish_scalar();
    }
    case '#': {
      if (line != "t" && line != "f") {
        return fail(RespErrc::kBadBoolean, "expected boolean t or f, got " + Quoted(line));
      }
      NewNode(ReplyType::kBoolean)->integer_ = line == "t" ? 1 : 0;
      return finish_scalar();
    }
    case '_': {
      if (!line.empty()) {
        return fail(RespErrc::kBadNull, "expected \\r\\n right after '_', got " + Quoted(line));
      }
      NewNode(ReplyType::kNull);
      return finish_scalar();
    }
    default:
      break;
  }

  // A length-prefixed type: bulk kinds ($ = !) or aggregates (* % ~ > |).
  if (line == "?") {
    return fail(RespErrc::kUnsupported,
                std::string("RESP3 streamed '") + type + "' of unknown length is not supported");
  }
  int64_t len = 0;
  IntParse r = ParseInt64(line, &len);
  if (r == IntParse::kNotANumber) {
    return fail(RespErrc::kBadLength,
                std::string("expected a decimal length after '") + type + "', got " + Quoted(line));
  }
  if (r == IntParse::kOutOfRange) {
    return fail(RespErrc::kBadLength,
                std::string("length after '") + type + "' is out of range: " + Quoted(line));
  }
  const bool is_bulk = type == '$' || type == '=' || type == '!';
  if (len == -1 && (type == '$' || type == '*')) {  // RESP2 null bulk / null array
    NewNode(ReplyType::kNull);
    return finish_scalar();
  }
  if (len < 0) {
    return fail(RespErrc::kBadLength, std::string("negative length ") + std::to_string(len) +
                                          " after '" + type +
                                          "' (only -1, meaning null, is allowed for $ and *)");
  }
  const uint64_t ulen = static_cast<uint64_t>(len);
  if (is_bulk) {
    if (ulen > limits_.max_bulk_len) {
      return fail(RespErrc::kBulkTooLong,
                  "bulk length " + std::to_string(ulen) + " exceeds the limit of " +
                      std::to_string(limits_.max_bulk_len) + " bytes (Limits::max_bulk_len)");
    }
    bulk_type_ = type == '$' ? ReplyType::kBulkString
                             : (type == '=' ? ReplyType::kVerbatim : ReplyType::kBlobError);
    Reply* node = NewNode(bulk_type_);
    bulk_target_ = &node->str_;
    bulk_remaining_ = ulen;
    crlf_seen_ = 0;
    state_ = ulen == 0 ? State::kBulkCrlf : State::kBulkBody;
    return true;
  }

  if (ulen > limits_.max_aggregate_len) {
    return fail(RespErrc::kAggregateTooLong,
                std::string("aggregate '") + type + "' claims " + std::to_string(ulen) +
                    " elements, over the limit of " + std::to_string(limits_.max_aggregate_len) +
                    " (Limits::max_aggregate_len)");
  }
  const uint64_t elements = (type == '%' || type == '|') ? 2 * ulen : ulen;
  if (elements > 0 && stack_.size() >= limits_.max_depth) {
    return fail(RespErrc::kTooDeep, "aggregates nested deeper than " +
                                        std::to_string(limits_.max_depth) +
                                        " levels (Limits::max_depth)");
  }
  if (type == '|') {
    if (elements == 0) return true;  // an empty attribute annotates nothing
    auto attr = std::make_unique<Reply>(ReplyType::kMap);
    Reply* raw = attr.get();
    stack_.push_back(Frame{raw, elements, std::move(attr)});
    return true;
  }
  ReplyType agg = type == '*'   ? ReplyType::kArray
                  : type == '%' ? ReplyType::kMap
                  : type == '~' ? ReplyType::kSet
                                : ReplyType::kPush;
  Reply* node = NewNode(agg);
  if (elements == 0) return finish_scalar();
  // A modest reservation only: the claimed count is not trusted.
  node->children_.reserve(static_cast<size_t>(std::min<uint64_t>(elements, 16)));
  stack_.push_back(Frame{node, elements, nullptr});
  return true;
}

}  // namespace kf::resp
