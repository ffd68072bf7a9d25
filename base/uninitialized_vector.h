// A std::vector whose resize(n) leaves new elements of trivial types uninitialised. For large
// arrays that are written in full right after (a key per nonzero of a 1e7-nonzero matrix), this
// skips a single-threaded zero fill and lets the parallel loop that writes them touch the fresh
// pages first, each thread its own. Construction with a value (resize(n, v), assign) still sets it.
#pragma once
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace stuckat {

template <class T, class Base = std::allocator<T>>
struct DefaultInitAllocator : Base {
  using Base::Base;
  DefaultInitAllocator() = default;
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U, typename std::allocator_traits<Base>::template rebind_alloc<U>>;
  };
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible<U>::value) {
    ::new (static_cast<void*>(p)) U;  // default-initialisation: nothing for int64_t
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    std::allocator_traits<Base>::construct(static_cast<Base&>(*this), p, std::forward<Args>(args)...);
  }
};

template <class T>
using UninitializedVector = std::vector<T, DefaultInitAllocator<T>>;

}  // namespace stuckat
