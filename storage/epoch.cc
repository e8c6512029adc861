#include "storage/epoch.h"

#include <algorithm>
#include <limits>
#include <map>

namespace metricsgate::storage {
namespace {

// This thread's record in each domain it used (by domain id), released when the thread exits.
struct ThreadRecords {
  std::map<uint64_t, void*> by_domain;
  uint64_t last_id = 0;  // the domain used last, looked up without the map
  void* last = nullptr;
  void (*release)(void*) = nullptr;
  ~ThreadRecords() {
    for (auto& [domain, record] : by_domain) release(record);
  }
};

}  // namespace

std::atomic<uint64_t> EpochDomain::next_id_{1};

EpochDomain& EpochDomain::Global() {
  static EpochDomain* const domain = new EpochDomain;  // never destroyed: threads outlive main
  return *domain;
}

EpochDomain::~EpochDomain() {
  for (const Retired& retired : retired_) retired.deleter(retired.object);
  // Records stay allocated: exiting threads may still release theirs. They are small and a
  // domain other than Global() lives only in tests.
}

EpochDomain::Record* EpochDomain::Acquire() {
  for (Record* record = records_.load(std::memory_order_acquire); record != nullptr;
       record = record->next) {
    bool expected = false;
    if (!record->in_use.load(std::memory_order_relaxed) &&
        record->in_use.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      return record;
    }
  }
  auto* record = new Record;
  record->in_use.store(true, std::memory_order_relaxed);
  Record* head = records_.load(std::memory_order_relaxed);
  do {
    record->next = head;
  } while (!records_.compare_exchange_weak(head, record, std::memory_order_release,
                                           std::memory_order_relaxed));
  return record;
}

EpochDomain::Record& EpochDomain::ThisThread() {
  thread_local ThreadRecords records;
  if (records.last_id == id_) return *static_cast<Record*>(records.last);
  void*& slot = records.by_domain[id_];
  if (slot == nullptr) {
    slot = Acquire();
    records.release = [](void* record) { Release(static_cast<Record*>(record)); };
  }
  records.last_id = id_;
  records.last = slot;
  return *static_cast<Record*>(slot);
}

EpochGuard::EpochGuard(EpochDomain& domain) : record_(domain.ThisThread()) {
  if (record_.depth++ > 0) return;
  uint64_t seen = domain.epoch_.load(std::memory_order_seq_cst);
  for (;;) {
    record_.epoch.store(seen, std::memory_order_seq_cst);
    const uint64_t now = domain.epoch_.load(std::memory_order_seq_cst);
    if (now == seen) return;
    seen = now;
  }
}

EpochGuard::~EpochGuard() {
  if (--record_.depth == 0) record_.epoch.store(0, std::memory_order_release);
}

void EpochDomain::Retire(void* object, void (*deleter)(void*)) {
  std::lock_guard lock(retired_mu_);
  const uint64_t epoch = epoch_.fetch_add(1, std::memory_order_seq_cst);
  retired_.push_back({epoch, object, deleter});
}

size_t EpochDomain::Reclaim() {
  std::vector<Retired> free_now;
  {
    std::lock_guard lock(retired_mu_);
    if (retired_.empty()) return 0;
    uint64_t oldest = std::numeric_limits<uint64_t>::max();
    for (Record* record = records_.load(std::memory_order_acquire); record != nullptr;
         record = record->next) {
      const uint64_t epoch = record->epoch.load(std::memory_order_seq_cst);
      if (epoch != 0) oldest = std::min(oldest, epoch);
    }
    // A reader in a section since epoch E may hold what was retired at E or later.
    auto keep = std::stable_partition(retired_.begin(), retired_.end(),
                                      [&](const Retired& r) { return r.epoch >= oldest; });
    free_now.assign(keep, retired_.end());
    retired_.erase(keep, retired_.end());
  }
  for (const Retired& retired : free_now) retired.deleter(retired.object);
  return free_now.size();
}

size_t EpochDomain::pending() const {
  std::lock_guard lock(retired_mu_);
  return retired_.size();
}

}  // namespace metricsgate::storage
