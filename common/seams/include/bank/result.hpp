#pragma once
// Result<T>: a value or an Error with a reason a person can act on. Operating
// errors (bad input, a failed disk) travel as values; only bugs assert.

#include <string>
#include <utility>
#include <variant>

#include "bank/assert.hpp"

namespace bank {

struct Error {
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    BANK_ASSERT_MSG(ok(), "Result::value() on an error");
    return std::get<0>(state_);
  }
  const T& value() const& {
    BANK_ASSERT_MSG(ok(), "Result::value() on an error");
    return std::get<0>(state_);
  }
  T&& value() && {
    BANK_ASSERT_MSG(ok(), "Result::value() on an error");
    return std::get<0>(std::move(state_));
  }
  const Error& error() const {
    BANK_ASSERT_MSG(!ok(), "Result::error() on a value");
    return std::get<1>(state_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Error> state_;
};

// Result<void> in spirit: success carries nothing.
struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() {
  return Status(Ok{});
}

}  // namespace bank
