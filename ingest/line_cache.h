// LineCache: a per-thread map from the text that names a StatsD series (see
// StatsdIngester) to what it resolved to, laid out so a batch of lookups can overlap their
// cache misses: Prefetch() each key's slot first, then PrefetchEntry(), then Find().
//
// Slots hold a key's 64-bit hash and a pointer to its entry (16 bytes; linear probing, at most
// half full); an entry holds the key's bytes and the value. Not thread-safe: one per thread.
#ifndef METRICSGATE_INGEST_LINE_CACHE_H_
#define METRICSGATE_INGEST_LINE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string_view>
#include <vector>

#include "base/string_hash.h"

namespace metricsgate::ingest {

template <typename Value>
class LineCache {
 public:
  struct Entry {
    Value value;
    uint32_t size;
    std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), size}; }
  };

  // Holds at most `max_entries`; inserting one more empties it first.
  explicit LineCache(size_t max_entries) : max_entries_(max_entries) { Reset(16); }
  ~LineCache() { Clear(); }
  LineCache(const LineCache&) = delete;
  LineCache& operator=(const LineCache&) = delete;

  static size_t Hash(std::string_view key) { return StringViewHash{}(key); }

  // Starts loading the slot where `hash` begins.
  void Prefetch(size_t hash) const { __builtin_prefetch(&slots_[hash & mask_]); }

  // The entry whose hash is `hash`, if any (likely the key's), so its line can be loaded
  // before Find() compares the key; null if none.
  const Entry* Candidate(size_t hash) const {
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].entry == nullptr || slots_[i].hash == hash) return slots_[i].entry;
    }
  }

  Entry* Find(std::string_view key, size_t hash) const {
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.entry == nullptr) return nullptr;
      if (slot.hash == hash && slot.entry->key() == key) return slot.entry;
    }
  }

  // REQUIRES: `key` is not in the cache.
  Entry* Insert(std::string_view key, size_t hash, const Value& value) {
    if (size_ >= max_entries_) Clear();
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    void* memory = ::operator new(sizeof(Entry) + key.size());
    auto* entry = new (memory) Entry{value, static_cast<uint32_t>(key.size())};
    std::memcpy(static_cast<void*>(entry + 1), key.data(), key.size());
    Place(hash, entry);
    ++size_;
    return entry;
  }

  void Clear() {
    for (Slot& slot : slots_) {
      if (slot.entry != nullptr) Free(slot.entry);
    }
    Reset(16);
  }

  size_t size() const { return size_; }

 private:
  struct Slot {
    size_t hash;
    Entry* entry;
  };
  static void Free(Entry* entry) {
    entry->~Entry();
    ::operator delete(entry);
  }
  void Reset(size_t capacity) {
    slots_.assign(capacity, Slot{0, nullptr});
    mask_ = capacity - 1;
    size_ = 0;
  }
  void Place(size_t hash, Entry* entry) {
    size_t i = hash & mask_;
    while (slots_[i].entry != nullptr) i = (i + 1) & mask_;
    slots_[i] = Slot{hash, entry};
  }
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    const size_t size = size_;
    Reset(old.size() * 2);
    size_ = size;
    for (const Slot& slot : old) {
      if (slot.entry != nullptr) Place(slot.hash, slot.entry);
    }
  }

  const size_t max_entries_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace metricsgate::ingest

#endif  // METRICSGATE_INGEST_LINE_CACHE_H_
