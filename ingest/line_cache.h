// LineCache: a per-thread map from the text that names a StatsD series (see
// StatsdIngester) to what it resolved to, laid out for a batch of lookups whose memory latency
// should overlap: Prefetch() each key's index entry while parsing, then Candidate() to start
// loading its slot and what the value points to (the hint), then Find().
//
// A key is a LineKey, three views of the line (type, name part, DogStatsD tags), hashed and
// compared in place; only Insert() copies it, as `type name \xff tags` (`\xff` is never in
// UTF-8, so the parts cannot run into each other).
//
// Open addressing with linear probing over two parallel arrays: a compact index of 16-byte
// entries (the key's hash and a hint), which the probe walks, and 64-byte slots (one cache line
// each) with the value and, for keys up to kInlineKey bytes, the key itself. A lookup touches
// one slot, whatever the probe length: with the hashes in the slots, each probe past a
// colliding key was a cache miss of its own (BENCHMARKS.md, 2026-12-05). Longer keys live on
// the heap. At most 3/4 full. Not thread-safe: one per thread.
#ifndef METRICSGATE_INGEST_LINE_CACHE_H_
#define METRICSGATE_INGEST_LINE_CACHE_H_

#include <algorithm>
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
    Value value;
    // The key's bytes when size <= kInlineKey; otherwise a pointer to them, at an 8-byte
    // aligned offset (so leak checkers, which scan aligned words, see it).
    alignas(8) char key[64 - (sizeof(Value) + 7) / 8 * 8 - sizeof(uint32_t)];
    uint32_t size;  // of the key

    std::string_view key_view() const {
      if (size <= sizeof(key)) return {key, size};
      const char* heap;
      std::memcpy(&heap, key, sizeof(heap));
      return {heap, size};
    }
  };
  static constexpr size_t kInlineKey = sizeof(Slot::key);
  static_assert(sizeof(Slot) == 64 && offsetof(Slot, key) % 8 == 0);

  // Holds at most `max_entries`; inserting one more empties it first.
  explicit LineCache(size_t max_entries) : max_entries_(max_entries) { Reset(16); }
  ~LineCache() { FreeKeys(); }
  LineCache(const LineCache&) = delete;
  LineCache& operator=(const LineCache&) = delete;

  static size_t Hash(const LineKey& key) {
    uint64_t h = line_cache_internal::HashBytes(static_cast<unsigned char>(key.type), key.name);
    if (!key.tags.empty()) h = line_cache_internal::HashBytes(h, key.tags);
    return static_cast<size_t>(line_cache_internal::Finish(h));
  }

  // Starts loading the index entry where `hash` begins.
  void Prefetch(size_t hash) const { __builtin_prefetch(&index_[Stored(hash) & mask_]); }

  // Finds the first entry whose hash is `hash` (most likely the key's), starts loading its
  // slot, and returns the hint it was inserted with, so what the value points to can be
  // loaded too before Find() compares the key; null if there is none.
  const void* Candidate(size_t hash) const {
    const size_t stored = Stored(hash);
    for (size_t i = stored & mask_;; i = (i + 1) & mask_) {
      const Entry& entry = index_[i];
      if (entry.hash == kEmpty) return nullptr;
      if (entry.hash == stored) {
        __builtin_prefetch(&slots_[i]);
        return entry.hint;
      }
    }
  }

  Value* Find(const LineKey& key, size_t hash) {
    const size_t stored = Stored(hash);
    for (size_t i = stored & mask_;; i = (i + 1) & mask_) {
      const Entry& entry = index_[i];
      if (entry.hash == kEmpty) return nullptr;
      if (entry.hash == stored && Equal(slots_[i], key)) return &slots_[i].value;
    }
  }

  // REQUIRES: `key` is not in the cache. `hint`: what Candidate() returns for it.
  Value* Insert(const LineKey& parts, size_t hash, const Value& value, const void* hint = nullptr) {
    std::string key;
    key.reserve(parts.size());
    key.push_back(parts.type);
    key.append(parts.name);
    key.push_back('\xff');
    key.append(parts.tags);
    if (size_ >= max_entries_) Clear();
    if ((size_ + 1) * 4 > capacity_ * 3) Grow();
    const size_t i = Place(Stored(hash));
    index_[i] = {Stored(hash), hint};
    Slot& slot = slots_[i];
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

  // Empties the cache and keeps its arrays, which refill as fast as they emptied: new lines
  // without end (series churn) fill it again and again, and growing it anew from 16 slots
  // each time faulted ~10 MB of fresh pages in per 65,536 lines (BENCHMARKS.md, 2026-12-06).
  void Clear() {
    FreeKeys();
    std::fill_n(index_.get(), capacity_, Entry{});
    size_ = 0;
  }

  size_t size() const { return size_; }

 private:
  // The index: a key's hash and hint, 4 to a cache line, probed before the 64-byte slot at the
  // same position is touched, so a probe past a colliding entry costs no cache miss of its own.
  struct Entry {
    size_t hash;  // Stored(hash), which also gives the position; kEmpty: the position is free
    const void* hint;
  };
  static constexpr size_t kEmpty = 0;
  static size_t Stored(size_t hash) { return hash == kEmpty ? 1 : hash; }

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
      if (index_[i].hash != kEmpty && slots_[i].size > kInlineKey) {
        std::free(const_cast<char*>(slots_[i].key_view().data()));
      }
    }
  }
  void Reset(size_t capacity) {
    slots_.reset(new Slot[capacity]);
    index_.reset(new Entry[capacity]());
    capacity_ = capacity;
    mask_ = capacity - 1;
    size_ = 0;
  }
  // The free position where an entry of stored hash `stored` goes.
  size_t Place(size_t stored) const {
    size_t i = stored & mask_;
    while (index_[i].hash != kEmpty) i = (i + 1) & mask_;
    return i;
  }
  void Grow() {
    std::unique_ptr<Slot[]> old_slots = std::move(slots_);
    std::unique_ptr<Entry[]> old_index = std::move(index_);
    const size_t old_capacity = capacity_;
    const size_t size = size_;
    Reset(old_capacity * 2);
    size_ = size;
    for (size_t i = 0; i < old_capacity; ++i) {
      if (old_index[i].hash == kEmpty) continue;
      const size_t j = Place(old_index[i].hash);
      index_[j] = old_index[i];
      slots_[j] = old_slots[i];  // moves a heap key's pointer with it
    }
  }

  const size_t max_entries_;
  std::unique_ptr<Slot[]> slots_;
  std::unique_ptr<Entry[]> index_;
  size_t capacity_ = 0;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace metricsgate::ingest

#endif  // METRICSGATE_INGEST_LINE_CACHE_H_
