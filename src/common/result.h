// Result<T>: the return type of every fallible operation on keyferry's data path.
//
// A Result holds either a value or a kf::Error (an std::error_code from one domain's errc
// enum plus a human sentence: what failed, where, and what to do next). It is
// std::expected<T, Error> where the standard library has it (g++ 12, C++23). clang 14's
// libstdc++ headers hide std::expected (they require newer concepts support), so for the
// fuzz targets built with clang a small subset with the same spelling is provided below.
// Use only the common subset: has_value(), operator bool, value(), operator*, operator->,
// error(), and construction from a T or from kf::Unexpected (see MakeError()).
#pragma once

#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#if __has_include(<expected>)
#include <expected>
#endif

namespace kf {

// An error that can reach a person: a machine-checkable code and a sentence.
struct Error {
  std::error_code code;
  std::string message;  // says what failed, on which key/node/offset, and what to do next

  // "message (category: code message)" or just the code's message when no detail is set.
  std::string ToString() const {
    if (message.empty()) return code.message();
    return message;
  }
};

#if defined(__cpp_lib_expected) && __cpp_lib_expected >= 202202L

template <typename T>
using Result = std::expected<T, Error>;
using Unexpected = std::unexpected<Error>;

#else

class Unexpected {
 public:
  explicit Unexpected(Error e) : error_(std::move(e)) {}
  Error& error() & { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
};

template <typename T>
class Result {
 public:
  Result() requires std::is_default_constructible_v<T> : value_(), ok_(true) {}
  template <typename U = T>
  requires std::is_constructible_v<T, U&&> &&
      (!std::is_same_v<std::remove_cvref_t<U>, Unexpected>)&&(
          !std::is_same_v<std::remove_cvref_t<U>, Result>)Result(U&& v)
      : value_(std::forward<U>(v)), ok_(true) {}  // NOLINT(google-explicit-constructor)
  Result(Unexpected u) : error_(std::move(u).error()), ok_(false) {}  // NOLINT
  Result(const Result& o) : ok_(o.ok_) {
    if (ok_)
      new (&value_) T(o.value_);
    else
      new (&error_) Error(o.error_);
  }
  Result(Result&& o) noexcept : ok_(o.ok_) {
    if (ok_)
      new (&value_) T(std::move(o.value_));
    else
      new (&error_) Error(std::move(o.error_));
  }
  Result& operator=(Result o) {
    this->~Result();
    new (this) Result(std::move(o));
    return *this;
  }
  ~Result() {
    if (ok_)
      value_.~T();
    else
      error_.~Error();
  }
  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  T& value() & { return value_; }
  const T& value() const& { return value_; }
  T&& value() && { return std::move(value_); }
  T& operator*() & { return value_; }
  const T& operator*() const& { return value_; }
  T&& operator*() && { return std::move(value_); }
  T* operator->() { return &value_; }
  const T* operator->() const { return &value_; }
  Error& error() & { return error_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  union {
    T value_;
    Error error_;
  };
  bool ok_;
};

template <>
class Result<void> {
 public:
  Result() : ok_(true) {}
  Result(Unexpected u) : error_(std::move(u).error()), ok_(false) {}  // NOLINT
  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const {}
  void operator*() const {}
  Error& error() & { return error_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_;
};

#endif

// Builds the error side of a Result: `return MakeError(RdbErrc::kTruncated, "...");`.
template <typename ErrcEnum>
requires std::is_error_code_enum_v<ErrcEnum>
inline Unexpected MakeError(ErrcEnum code, std::string message = {}) {
  return Unexpected(Error{std::error_code(code), std::move(message)});
}
inline Unexpected MakeError(std::error_code code, std::string message) {
  return Unexpected(Error{code, std::move(message)});
}
inline Unexpected MakeError(Error e) { return Unexpected(std::move(e)); }

}  // namespace kf

// Propagates the error of a Result-returning expression, else yields nothing.
#define KF_RETURN_IF_ERROR(expr)                                            \
  do {                                                                      \
    auto kf_result_ = (expr);                                               \
    if (!kf_result_) return ::kf::MakeError(std::move(kf_result_).error()); \
  } while (0)
