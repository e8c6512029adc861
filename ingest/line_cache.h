// LineCache: a per-thread map from the text that names a StatsD series (see
// StatsdIngester) to what it resolved to, laid out for a batch of lookups whose memory latency
// should overlap: Prefetch() each key's slot while parsing, then Candidate() to start loading
// what the value points to, then Find().
//
// A key is a LineKey, three views of the line (type, name part, DogStatsD tags), hashed and
// compared in place; only Insert() copies it, as `type name \xff tags` (`\xff` is never in
// UTF-8, so the parts cannot run into each other).
//
// Open addressing with linear probing in one array of 64-byte slots (one cache line each):
// the key's hash, the value and, for keys up to kInlineKey bytes, the key itself, so a hit on
// a short key touches one cache line. Longer keys live on the heap. At most 3/4 full. Not
// thread-safe: one per thread.
#ifndef METRICSGATE_INGEST_LINE_CACHE_H_
#define METRICSGATE_INGEST_LINE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

namespace metricsgate::ingest {

struct LineKey {
  char type;              // the sample's type, as a character
  std::string_view name;  // the line's name part
  std::string_view tags;  // its DogStatsD tags field
  size_t size() const { return 2 + name.size() + tags.size(); }
};

namespace line_cache_internal {

// One step of the hash: a rotate, an xor and a 64-bit multiply (odd, so no bits are lost). A
// key of n bytes is a chain of n/8 of these: no 128-bit product, whose halves GCC 12 spilled
// to the stack and read back in every step, making the chain several times longer
// (BENCHMARKS.md, 2026-12-05).
inline uint64_t Step(uint64_t h, uint64_t word) {
  return ((h << 23 | h >> 41) ^ word) * 0x9E3779B97F4A7C15ull;
}

// Folds the high bits, which the multiplies fill best, into the low ones the table indexes by.
inline uint64_t Finish(uint64_t h) {
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  return h ^ (h >> 32);
}

// A fast 64-bit hash of `text` folded into `h`: 8 bytes at a time, the last word overlapping.
inline uint64_t HashBytes(uint64_t h, std::string_view text) {
  const char* p = text.data();
  size_t n = text.size();
  h = Step(h, n);
  if (n >= 8) {
    for (; n > 8; p += 8, n -= 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      h = Step(h, word);
    }
    uint64_t word;
    std::memcpy(&word, p + n - 8, 8);
    return Step(h, word);
  }
  uint64_t word = 0;
  for (size_t i = 0; i < n; ++i)
    word |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return Step(h, word);
}

}  // namespace line_cache_internal

template <typename Value>
class LineCache {
  static_assert(std::is_trivially_copyable_v<Value> && sizeof(Value) <= 32,
                "values are copied into 64-byte slots");

 public:
  struct alignas(64) Slot {
    size_t hash;
    Value value;
    // The key's bytes when size <= kInlineKey; otherwise a pointer to them, at an 8-byte
    // aligned offset (so leak checkers, which scan aligned words, see it).
    alignas(8) char key[64 - sizeof(size_t) - (sizeof(Value) + 7) / 8 * 8 - sizeof(uint32_t)];
    uint32_t size;  // of the key; kEmpty: the slot is free

    std::string_view key_view() const {
      if (size <= sizeof(key)) return {key, size};
      const char* heap;
      std::memcpy(&heap, key, sizeof(heap));
      return {heap, size};
    }
  };
  static constexpr uint32_t kEmpty = UINT32_MAX;
  static constexpr size_t kInlineKey = sizeof(Slot::key);
  static_assert(sizeof(Slot) == 64 && offsetof(Slot, key) % 8 == 0);

  // Holds at most `max_entries`; inserting one more empties it first.
  explicit LineCache(size_t max_entries) : max_entries_(max_entries) { Reset(16); }
  ~LineCache() { Clear(); }
  LineCache(const LineCache&) = delete;
  LineCache& operator=(const LineCache&) = delete;

  static size_t Hash(const LineKey& key) {
    uint64_t h = line_cache_internal::HashBytes(static_cast<unsigned char>(key.type), key.name);
    if (!key.tags.empty()) h = line_cache_internal::HashBytes(h, key.tags);
    return static_cast<size_t>(line_cache_internal::Finish(h));
  }

  // Starts loading the slot where `hash` begins.
  void Prefetch(size_t hash) const { __builtin_prefetch(&slots_[hash & mask_]); }

  // The first slot whose hash is `hash`, if any (most likely the key's), so what its value
  // points to can be loaded before Find() compares the key; null if none.
  const Slot* Candidate(size_t hash) const {
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.size == kEmpty) return nullptr;
      if (slot.hash == hash) return &slot;
    }
  }

  Value* Find(const LineKey& key, size_t hash) {
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.size == kEmpty) return nullptr;
      if (slot.hash == hash && Equal(slot, key)) return &slot.value;
    }
  }

  // REQUIRES: `key` is not in the cache.
  Value* Insert(const LineKey& parts, size_t hash, const Value& value) {
    std::string key;
    key.reserve(parts.size());
    key.push_back(parts.type);
    key.append(parts.name);
    key.push_back('\xff');
    key.append(parts.tags);
    if (size_ >= max_entries_) Clear();
    if ((size_ + 1) * 4 > capacity_ * 3) Grow();
    Slot& slot = Place(hash);
    slot.value = value;
    slot.size = static_cast<uint32_t>(key.size());
    if (key.size() <= kInlineKey) {
      std::memcpy(slot.key, key.data(), key.size());
    } else {
      char* heap = static_cast<char*>(std::malloc(key.size()));
      std::memcpy(heap, key.data(), key.size());
      std::memcpy(slot.key, &heap, sizeof(heap));
    }
    ++size_;
    return &slot.value;
  }

  void Clear() {
    FreeKeys();
    Reset(16);
  }

  size_t size() const { return size_; }

 private:
  static bool Equal(const Slot& slot, const LineKey& key) {
    if (slot.size != key.size()) return false;
    const std::string_view stored = slot.key_view();
    const size_t n = key.name.size();
    // string_view comparisons: no memcmp with an empty view's null pointer.
    return stored[0] == key.type && stored.substr(1, n) == key.name && stored[1 + n] == '\xff' &&
           stored.substr(2 + n) == key.tags;
  }

  void FreeKeys() {
    for (size_t i = 0; i < capacity_; ++i) {
      const Slot& slot = slots_[i];
      if (slot.size != kEmpty && slot.size > kInlineKey) {
        std::free(const_cast<char*>(slot.key_view().data()));
      }
    }
  }
  void Reset(size_t capacity) {
    slots_.reset(new Slot[capacity]);
    for (size_t i = 0; i < capacity; ++i) slots_[i].size = kEmpty;
    capacity_ = capacity;
    mask_ = capacity - 1;
    size_ = 0;
  }
  Slot& Place(size_t hash) {
    size_t i = hash & mask_;
    while (slots_[i].size != kEmpty) i = (i + 1) & mask_;
    slots_[i].hash = hash;
    return slots_[i];
  }
  void Grow() {
    std::unique_ptr<Slot[]> old = std::move(slots_);
    const size_t old_capacity = capacity_;
    const size_t size = size_;
    Reset(old_capacity * 2);
    size_ = size;
    for (size_t i = 0; i < old_capacity; ++i) {
      if (old[i].size == kEmpty) continue;
      Slot& slot = Place(old[i].hash);
      slot = old[i];  // moves a heap key's pointer with it
    }
  }

  const size_t max_entries_;
  std::unique_ptr<Slot[]> slots_;
  size_t capacity_ = 0;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace metricsgate::ingest

#endif  // METRICSGATE_INGEST_LINE_CACHE_H_
