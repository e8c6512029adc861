#include "base/huge_pages.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace metricsgate {
namespace {

// The THP mode the kernel is in: "always", "madvise" or "never" (the bracketed word), or ""
// where the kernel does not say (no THP support, or /sys hidden).
std::string ThpMode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t open = text.find('['), close = text.find(']');
  if (open == std::string::npos || close == std::string::npos) return "";
  return text.substr(open + 1, close - open - 1);
}

// AnonHugePages of the mapping that holds `address`, in kB, from /proc/self/smaps.
long AnonHugeKb(const void* address) {
  std::ifstream in("/proc/self/smaps");
  const auto target = reinterpret_cast<uintptr_t>(address);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    uintptr_t from = 0, to = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> from >> dash >> to && dash == '-') {
      inside = from <= target && target < to;
      continue;
    }
    if (inside && line.rfind("AnonHugePages:", 0) == 0) return std::stol(line.substr(14));
  }
  return -1;
}

TEST(HugePagesTest, SmallBlocksAreUsableAndAligned) {
  for (size_t bytes : {size_t{1}, size_t{100}, kHugePageSize - 1}) {
    auto* block = static_cast<unsigned char*>(AllocateLarge(bytes));
    ASSERT_NE(block, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % alignof(std::max_align_t), 0u) << bytes;
    std::memset(block, 0xab, bytes);
    EXPECT_EQ(block[bytes - 1], 0xab);
    FreeLarge(block, bytes);
  }
}

TEST(HugePagesTest, LargeBlocksStartOnHugePageBoundariesAndHoldWhatIsWritten) {
  for (size_t bytes : {kHugePageSize, kHugePageSize + 1, 5 * kHugePageSize + 12345}) {
    auto* block = static_cast<unsigned char*>(AllocateLarge(bytes));
    ASSERT_NE(block, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % kHugePageSize, 0u) << bytes;
    for (size_t i = 0; i < bytes; ++i) block[i] = static_cast<unsigned char>(i * 7);
    size_t wrong = 0;
    for (size_t i = 0; i < bytes; ++i) wrong += block[i] != static_cast<unsigned char>(i * 7);
    EXPECT_EQ(wrong, 0u) << bytes;
    FreeLarge(block, bytes);
  }
  FreeLarge(nullptr, kHugePageSize);  // as free(nullptr): nothing
}

TEST(HugePagesTest, LargeBlocksGetHugePagesWhenTheKernelAllowsThem) {
  const size_t bytes = 8 * kHugePageSize;
  auto* block = static_cast<char*>(AllocateLarge(bytes));
  std::memset(block, 1, bytes);
  const long huge_kb = AnonHugeKb(block);
  const std::string mode = ThpMode();
  ASSERT_GE(huge_kb, 0) << "the block's mapping is not in /proc/self/smaps";
  if (mode.empty()) {
    // Nothing says what the kernel does: the block is usable (above) and that is all.
  } else if (mode == "never") {
    EXPECT_EQ(huge_kb, 0) << "THP is off, so the block has no huge pages";
  } else {
    // The kernel may fail to find free 2 MiB ranges for a few; not for all of 16 MiB.
    EXPECT_GE(huge_kb, 2048) << "THP mode " << mode;
  }
  FreeLarge(block, bytes);
}

TEST(HugePagesTest, VectorsGrowThroughTheAllocatorAndKeepTheirValues) {
  std::vector<uint64_t, LargeAllocator<uint64_t>> values;
  for (uint64_t i = 0; i < 3'000'000; ++i) values.push_back(i * i);  // to 24 MB, via 2 MiB
  uint64_t wrong = 0;
  for (uint64_t i = 0; i < values.size(); ++i) wrong += values[i] != i * i;
  EXPECT_EQ(wrong, 0u);
  std::vector<uint64_t, LargeAllocator<uint64_t>> copy = values;
  EXPECT_EQ(copy, values);
}

}  // namespace
}  // namespace metricsgate
