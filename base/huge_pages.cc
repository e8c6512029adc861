#include "base/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>
#include <new>

namespace metricsgate {
namespace {

size_t MappedSize(size_t bytes) { return (bytes + kHugePageSize - 1) & ~(kHugePageSize - 1); }

}  // namespace

void* AllocateLarge(size_t bytes) {
  if (bytes < kHugePageSize) return ::operator new(bytes);
  const size_t size = MappedSize(bytes);
  // Map one huge page more than needed, then cut the ends off so the block starts on a 2 MiB
  // boundary: only whole, aligned 2 MiB ranges can be huge pages.
  void* mapped = mmap(nullptr, size + kHugePageSize, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(mapped);
  const uintptr_t aligned = (start + kHugePageSize - 1) & ~(kHugePageSize - 1);
  if (aligned > start) munmap(mapped, aligned - start);
  const uintptr_t end = start + size + kHugePageSize;
  if (end > aligned + size) munmap(reinterpret_cast<void*>(aligned + size), end - (aligned + size));
  // Advice only: where THP is off this fails or does nothing, and the block is plain memory.
  madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

void FreeLarge(void* block, size_t bytes) noexcept {
  if (block == nullptr) return;
  if (bytes < kHugePageSize) {
    ::operator delete(block);
    return;
  }
  munmap(block, MappedSize(bytes));
}

}  // namespace metricsgate
