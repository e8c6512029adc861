// Memory for large, short-lived arrays (a scrape's snapshot of a million series, ~200 MB)
// in 2 MiB transparent huge pages where the kernel allows them.
//
// Fresh memory is faulted in a page at a time on first touch. With 4 KiB pages a 200 MB
// snapshot takes ~50,000 faults, and in a virtual machine each costs several microseconds: a
// first scrape of a million series spent more time faulting than sorting (BENCHMARKS.md,
// 2026-12-05). Blocks of at least kHugePageSize are mapped on their own, aligned to 2 MiB, and
// advised MADV_HUGEPAGE, so the same memory comes in ~100 faults; with THP set to `never`
// they are plain mappings and behave as before. Smaller blocks come from operator new.
//
// Thread safety: the functions are safe from any thread; a block belongs to its caller.
#ifndef METRICSGATE_BASE_HUGE_PAGES_H_
#define METRICSGATE_BASE_HUGE_PAGES_H_

#include <cstddef>
#include <new>

namespace metricsgate {

inline constexpr size_t kHugePageSize = size_t{2} << 20;

// Returns `bytes` of uninitialised memory (from a mapping of its own when bytes >=
// kHugePageSize), aligned for any type. Throws std::bad_alloc when there is none.
void* AllocateLarge(size_t bytes);
// Frees a block from AllocateLarge(bytes), with the same `bytes`.
void FreeLarge(void* block, size_t bytes) noexcept;

// A standard allocator over AllocateLarge, for vectors that grow to megabytes.
template <typename T>
struct LargeAllocator {
  using value_type = T;
  LargeAllocator() = default;
  template <typename U>
  LargeAllocator(const LargeAllocator<U>&) {}  // NOLINT: as std::allocator converts
  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(AllocateLarge(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) noexcept { FreeLarge(p, n * sizeof(T)); }
  friend bool operator==(const LargeAllocator&, const LargeAllocator&) { return true; }
};

}  // namespace metricsgate

#endif  // METRICSGATE_BASE_HUGE_PAGES_H_
