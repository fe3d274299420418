// SPDX-License-Identifier: MIT
// p9x::Result<T, E>: the vocabulary type for operations that fail with a protocol error.
//
// Protocol errors are values, not exceptions (GUIDE R6). The API follows std::expected (C++23) so
// the type can be swapped for it later: has_value(), value(), error(), operator*, operator->,
// and p9x::Unexpected(e) to build a failure. [[nodiscard]] so an ignored error is a warning.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "codec/linux_errno.h"

namespace p9x {

// Wraps an error value so Result's constructor can tell it from a success value.
template <class E>
struct UnexpectedValue {
  E error;
};

template <class E>
constexpr UnexpectedValue<std::decay_t<E>> Unexpected(E&& e) {
  return {std::forward<E>(e)};
}

template <class T, class E = Errno>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  using error_type = E;

  template <class U = T, std::enable_if_t<std::is_constructible_v<T, U&&>, int> = 0>
  constexpr Result(U&& value) : state_(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT
  template <class G>
  constexpr Result(UnexpectedValue<G> u)  // NOLINT
      : state_(std::in_place_index<1>, E(std::move(u.error))) {}

  constexpr bool has_value() const { return state_.index() == 0; }
  constexpr explicit operator bool() const { return has_value(); }

  // Contract: callers check has_value() first; calling value() on an error is a programming bug.
  constexpr T& value() & { assert(has_value()); return *std::get_if<0>(&state_); }
  constexpr const T& value() const& { assert(has_value()); return *std::get_if<0>(&state_); }
  constexpr T&& value() && { assert(has_value()); return std::move(*std::get_if<0>(&state_)); }
  constexpr const E& error() const { assert(!has_value()); return *std::get_if<1>(&state_); }

  constexpr T& operator*() & { return value(); }
  constexpr const T& operator*() const& { return value(); }
  constexpr T* operator->() { return &value(); }
  constexpr const T* operator->() const { return &value(); }

  template <class U>
  constexpr T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, E> state_;
};

// Result<void>: success carries nothing.
template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  constexpr Result() = default;
  template <class G>
  constexpr Result(UnexpectedValue<G> u) : error_(E(std::move(u.error))), ok_(false) {}  // NOLINT

  constexpr bool has_value() const { return ok_; }
  constexpr explicit operator bool() const { return ok_; }
  constexpr void value() const { assert(ok_); }
  constexpr const E& error() const { assert(!ok_); return error_; }

 private:
  E error_{};
  bool ok_ = true;
};

}  // namespace p9x
