#pragma once
// An allocator for the simulator's big flat arrays (hundreds of MB for a
// 4-million-flow all-to-all). Allocations of 2 MiB or more are 2 MiB-aligned
// and advised as transparent huge pages (madvise MADV_HUGEPAGE), which cuts the
// page faults of first touch by up to 512x; measured on the dev box it halves
// the wall time of the 2048-core all-to-all (bench/RESULTS.md). Smaller ones
// use plain operator new. Behaviour is otherwise that of std::allocator.

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace switchsim::sim {

// SWITCHSIM_NO_HUGEPAGES=1 in the environment turns the advice off (for A/B
// measurements).
inline bool huge_pages_enabled() {
  static const bool enabled = std::getenv("SWITCHSIM_NO_HUGEPAGES") == nullptr;
  return enabled;
}

template <class T>
struct HugePageAllocator {
  using value_type = T;
  static constexpr std::size_t kHuge = std::size_t{2} << 20;

  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>& /*other*/) noexcept {}  // NOLINT(google-explicit-constructor)

  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < kHuge) return static_cast<T*>(::operator new(bytes));
    const std::size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
    void* p = std::aligned_alloc(kHuge, rounded);
    if (p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    if (huge_pages_enabled()) (void)::madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n * sizeof(T) < kHuge) {
      ::operator delete(p);
    } else {
      std::free(p);
    }
  }
  template <class U>
  bool operator==(const HugePageAllocator<U>& /*other*/) const noexcept {
    return true;
  }
};

template <class T>
using BigVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace switchsim::sim
