#pragma once
// An event's callback: a move-only void() callable kept in place when it is
// at most inline_bytes (std::function keeps 16 bytes in place, and most of the
// world's events capture a pointer, a shared_ptr and an int, so each cost an
// allocation and a free). Larger callables go to the heap, as before.

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace sim {

class EventCallback {
 public:
  static constexpr std::size_t inline_bytes = 48;

  EventCallback() = default;
  EventCallback(std::nullptr_t) {}  // NOLINT: as std::function converts from nullptr.
  template <typename F, typename D = std::decay_t<F>,
            typename = std::enable_if_t<!std::is_same_v<D, EventCallback> && std::is_invocable_r_v<void, D&>>>
  EventCallback(F&& callable) {  // NOLINT: converts from any callable, as std::function does.
    if constexpr (fits_inline<D>) {
      ::new (static_cast<void*>(storage_)) D(std::forward<F>(callable));
      ops_ = &inline_ops<D>;
    } else {
      ::new (static_cast<void*>(storage_)) D*(new D(std::forward<F>(callable)));
      ops_ = &heap_ops<D>;
    }
  }
  EventCallback(EventCallback&& other) noexcept { take(other); }
  EventCallback& operator=(EventCallback&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  EventCallback& operator=(std::nullptr_t) {
    reset();
    return *this;
  }
  EventCallback(const EventCallback&) = delete;
  EventCallback& operator=(const EventCallback&) = delete;
  ~EventCallback() { reset(); }

  explicit operator bool() const { return ops_ != nullptr; }
  void operator()() { ops_->invoke(storage_); }

 private:
  struct Ops {
    void (*invoke)(void* storage);
    void (*move_to)(void* from, void* to);  // Move-constructs at to and destroys what is at from.
    void (*destroy)(void* storage);
  };
  template <typename D>
  static constexpr bool fits_inline =
      sizeof(D) <= inline_bytes &&
      alignof(D) <= alignof(std::max_align_t) && std::is_nothrow_move_constructible_v<D>;
  template <typename D>
  static constexpr Ops inline_ops{[](void* storage) { (*static_cast<D*>(storage))(); },
                                  [](void* from, void* to) {
                                    ::new (to) D(std::move(*static_cast<D*>(from)));
                                    static_cast<D*>(from)->~D();
                                  },
                                  [](void* storage) { static_cast<D*>(storage)->~D(); }};
  template <typename D>
  static constexpr Ops heap_ops{[](void* storage) { (**static_cast<D**>(storage))(); },
                                [](void* from, void* to) { ::new (to) D*(*static_cast<D**>(from)); },
                                [](void* storage) { delete *static_cast<D**>(storage); }};

  void take(EventCallback& other) {
    if (other.ops_ == nullptr) return;
    other.ops_->move_to(other.storage_, storage_);
    ops_ = other.ops_;
    other.ops_ = nullptr;
  }
  void reset() {
    if (ops_ == nullptr) return;
    const Ops* ops = ops_;
    ops_ = nullptr;
    ops->destroy(storage_);
  }

  alignas(std::max_align_t) unsigned char storage_[inline_bytes];
  const Ops* ops_ = nullptr;
};

}  // namespace sim
