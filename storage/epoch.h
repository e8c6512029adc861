// Epoch-based memory reclamation: lets readers use shared objects without locks while writers
// unlink and retire them, and frees each retired object only when no reader can still hold it.
//
// The protocol:
// - Readers: a thread reads shared pointers only inside an EpochGuard (a read section). Entering
//   publishes the global epoch the thread saw in its own record; leaving stores 0. Sections are
//   short (one packet, one scrape) and may nest on one thread.
// - Writers: unlink the object first (so no new reader can reach it), then Retire() it. Retire
//   advances the global epoch and tags the object with the epoch before the advance.
// - Freeing: Reclaim() frees every retired object whose tag is below the epoch of every thread
//   inside a section. A reader that entered after the advance saw the unlink (it read the new
//   epoch, which the writer published after unlinking); one that entered before holds the object
//   back until it leaves. Retire() does not free anything; the owner calls Reclaim() on its own
//   schedule (the store's expiry sweep), and the destructor frees what is left.
//
// Entering re-reads the global epoch after publishing, and retries if it moved, so a reader that
// read an old epoch and published it late cannot slip past a reclaimer that saw it idle.
// Everything is std::atomic with sequentially consistent or acquire/release order, so
// ThreadSanitizer sees every happens-before edge (it does not model standalone fences, which is
// why no fence is used).
//
// Why not liburcu: Debian's liburcu synchronises through inline assembly that ThreadSanitizer
// cannot see, so every read section would be reported as a race, and our concurrency tests must
// be TSan-clean. This scheme is the textbook one (Fraser's EBR), small enough to check by reading,
// and the hot path costs one exchange per packet, not per sample.
#ifndef METRICSGATE_STORAGE_EPOCH_H_
#define METRICSGATE_STORAGE_EPOCH_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace metricsgate::storage {

class EpochDomain {
 public:
  EpochDomain() = default;
  // Frees everything retired. REQUIRES: no thread is in a section of this domain.
  ~EpochDomain();
  EpochDomain(const EpochDomain&) = delete;
  EpochDomain& operator=(const EpochDomain&) = delete;

  // The process-wide domain the store uses.
  static EpochDomain& Global();

  // Hands `object` to the domain, to be freed by `deleter(object)` once no section that might
  // have seen it is open. REQUIRES: `object` is unreachable to readers that enter from now on.
  void Retire(void* object, void (*deleter)(void*));

  template <typename T>
  void Retire(T* object) {
    Retire(object, [](void* p) { delete static_cast<T*>(p); });
  }

  // Frees the retired objects no open section can hold; returns how many.
  size_t Reclaim();

  // Objects retired and not yet freed.
  size_t pending() const;

 private:
  friend class EpochGuard;
  // One per thread that ever entered a section; never freed, reused after its thread exits.
  struct alignas(64) Record {
    std::atomic<uint64_t> epoch{0};  // 0: not in a section
    std::atomic<bool> in_use{false};
    Record* next = nullptr;  // immutable once published
    int depth = 0;           // owner thread only: nesting of sections
  };
  Record* Acquire();
  static void Release(Record* record) { record->in_use.store(false, std::memory_order_release); }
  Record& ThisThread();

  static std::atomic<uint64_t> next_id_;
  const uint64_t id_ = next_id_.fetch_add(1, std::memory_order_relaxed);  // never reused
  std::atomic<uint64_t> epoch_{1};
  std::atomic<Record*> records_{nullptr};
  struct Retired {
    uint64_t epoch;
    void* object;
    void (*deleter)(void*);
  };
  mutable std::mutex retired_mu_;
  std::vector<Retired> retired_;  // guarded by retired_mu_
};

// A read section of `domain` on this thread, for the guard's lifetime.
class EpochGuard {
 public:
  explicit EpochGuard(EpochDomain& domain = EpochDomain::Global());
  ~EpochGuard();
  EpochGuard(const EpochGuard&) = delete;
  EpochGuard& operator=(const EpochGuard&) = delete;

 private:
  EpochDomain::Record& record_;
};

}  // namespace metricsgate::storage

#endif  // METRICSGATE_STORAGE_EPOCH_H_
