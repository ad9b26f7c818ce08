// Result<T>: a value or an Error, for errors on the hot path (no exceptions there).
// A small stand-in for C++23 std::expected; it may not grow monadic helpers nobody calls.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace ringmta {

// What a caller may branch on. Everything else is kOther: only its message matters, and no
// caller searches the message for words.
enum class ErrorKind {
  kOther,
  kInUse,      // a resource another process holds (the queue database's lock)
  kTemporary,  // may succeed later, once the configuration is mended: defer, do not bounce
  kInput,      // the caller's input is at fault (a message, a list): theirs to mend, not ours
  kConflict,   // refused because of what is already there (the same list still queued)
};

struct Error {
  std::string message;
  ErrorKind kind = ErrorKind::kOther;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

inline Error make_error(std::string message, ErrorKind kind = ErrorKind::kOther) {
  return Error{std::move(message), kind};
}

}  // namespace ringmta
