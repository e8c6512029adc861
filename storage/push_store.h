// PushStore: the groups pushed through the Pushgateway API, with Pushgateway 1.x's semantics.
//
// A group is identified by its grouping labels (job and the path's labels). PUT replaces the
// whole group; POST replaces only the families it names; DELETE removes the group. Every
// pushed series carries the grouping labels (over its own labels of those names) and
// `instance=""` when it has no instance. Each group exports `push_time_seconds` and
// `push_failure_time_seconds` (Unix seconds, 0 = never), with Pushgateway's names and help.
//
// The consistency check costs O(size of the push), not O(size of the store) as Pushgateway's
// re-gathering does: metric names are claimed in the SeriesTable's name registry (one name,
// one type, across pushed groups and StatsD series alike); and a series can only be exported
// by another group whose grouping labels are among its labels, so for each set of grouping
// label names in use (a handful: {job}, {job, instance}, ...) one group lookup and one binary
// search say whether that group already exports it. Samples are kept sorted by labels. A push that
// fails the check changes nothing but the group's failure time (a new group is created with push
// time 0, as in Pushgateway). With the check off (--push.disable-consistency-check), pushes are
// applied unchecked, but a family whose name another type holds is kept out of the exposition (and
// counted), so /metrics never shows one name with two types; Pushgateway instead fails every
// scrape.
//
// Groups may expire: a push's ttl (or the store's default) makes the group disappear that
// long after its last successful push.
//
// Thread safety: all methods are safe from any thread. Writes take one mutex for the check and
// the swap of the group (O(push)); parsing happens before, in parallel. A group is immutable
// once published (shared_ptr), so Collect() and Groups() copy pointers under the mutex and
// read the groups after releasing it.
#ifndef METRICSGATE_STORAGE_PUSH_STORE_H_
#define METRICSGATE_STORAGE_PUSH_STORE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "base/string_hash.h"
#include "storage/metric_family.h"
#include "storage/series_table.h"
#include "storage/snapshot.h"

namespace metricsgate::storage {

class PushStore {
 public:
  struct Options {
    bool consistency_check = true;
    std::chrono::milliseconds default_ttl{0};  // 0: groups never expire
  };

  // `names` (the registry of metric names) must outlive the store.
  PushStore(
      SeriesTable* names, Options options,
      std::function<absl::Time()> clock = [] { return absl::Now(); });
  ~PushStore();
  PushStore(const PushStore&) = delete;
  PushStore& operator=(const PushStore&) = delete;

  struct Push {
    std::vector<Label> grouping;  // sorted by name, unique, `job` among them
    std::vector<MetricFamily> families;
    bool has_timestamp = false;  // some sample had one (refused, as by Pushgateway)
    bool replace = true;         // PUT; false: POST
    std::optional<std::chrono::milliseconds> ttl;  // unset: the default; 0: never expires
  };

  // Starts loading into the CPU's caches the group with these grouping labels, which a push is
  // about to replace: call it before parsing the push, so that the cache misses on the old group
  // (pushed long ago, and freed when the push is applied) overlap the parsing instead of
  // stalling its destruction, one dependent miss after another. Only a hint.
  void Prefetch(const std::vector<Label>& grouping) const;

  // Applies a push. Returns kInvalidArgument with Pushgateway's message
  // ("pushed metrics are invalid or inconsistent with existing metrics: ...") when the
  // consistency check refuses it; with the check off, always OK.
  absl::Status Apply(Push push);

  // Removes the group with exactly these grouping labels; false if there was none.
  bool Delete(const std::vector<Label>& grouping);
  // Removes every group whose grouping labels `match` accepts; returns how many.
  size_t DeleteIf(const std::function<bool(const std::vector<Label>&)>& match);
  // Removes groups whose TTL has passed; returns how many.
  size_t Expire();

  struct Family {
    MetricFamily family;   // samples carry the grouping labels, sorted
    absl::Time pushed;     // when the push that brought it was applied
    bool exported = true;  // false: its name is held by another type (check off only)
  };
  struct Group {
    uint64_t id = 0;
    std::vector<Label> labels;                    // the grouping labels
    absl::Time push_time = absl::UnixEpoch();     // UnixEpoch: never
    absl::Time failure_time = absl::UnixEpoch();  // UnixEpoch: never
    std::chrono::milliseconds ttl{0};
    std::vector<Family> families;  // sorted by name
  };
  // The groups, sorted by grouping labels; each is immutable.
  std::vector<std::shared_ptr<const Group>> Groups() const;

  // The group's push_failure_time_seconds and push_time_seconds (in that order), each with one
  // sample: the grouping labels and `instance=""` if they have no instance.
  static std::vector<MetricFamily> PushTimes(const Group& group);

  // Appends every exported pushed family, and push_time_seconds and
  // push_failure_time_seconds for every group.
  void Collect(std::vector<MetricFamily>* out) const;
  // Appends the store's own metrics (metricsgate_push_*).
  // Adds every exported sample of every group, and the groups' push times, to `out`.
  void AddTo(Snapshot* out) const;
  void CollectOwnMetrics(std::vector<MetricFamily>* out) const;

  // Increases with every change of what the store holds (persistence writes when it moved).
  uint64_t changes() const { return changes_.load(std::memory_order_acquire); }

  // The whole store in a self-checking binary form (with a CRC-32), and back. Restore()
  // refuses a truncated or corrupt image with kDataLoss and then holds nothing of it.
  // REQUIRES for Restore(): the store is empty.
  std::string Serialize() const;
  absl::Status Restore(std::string_view image);

  size_t size() const;  // groups held

 private:
  using GroupPtr = std::shared_ptr<const Group>;
  // Gives back the name claim of `family` (or its count as hidden). REQUIRES: mu_ held.
  void Forget(const Family& family);
  void RemoveLocked(const std::string& key);
  // The grouping label names of `grouping`, joined: the key of name_sets_.
  static std::string NameSetKey(const std::vector<Label>& grouping);
  // Counts one group more (+1) or less (-1) with the label names of `grouping`.
  // REQUIRES: mu_ held.
  void CountNameSet(const std::vector<Label>& grouping, int delta);
  // Another group than `grouping`'s that exports the series `family`{`labels`}, or null: only
  // a group whose grouping labels are among `labels` can, so each set of grouping label names
  // in use names at most one candidate. REQUIRES: mu_ held.
  const Group* HolderOf(const std::vector<Label>& grouping, std::string_view family,
                        const std::vector<Label>& labels) const;

  SeriesTable* const names_;
  const Options options_;
  const std::function<absl::Time()> clock_;
  mutable std::mutex mu_;
  // Guarded by mu_: groups by key (labels joined), and the sets of grouping label names in
  // use with how many groups have each.
  absl::flat_hash_map<std::string, GroupPtr, StringViewHash, StringViewEq> groups_;
  struct NameSet {
    std::vector<std::string> names;  // sorted
    size_t groups = 0;
  };
  absl::flat_hash_map<std::string, NameSet, StringViewHash, StringViewEq> name_sets_;
  absl::flat_hash_map<uint64_t, absl::Time> expiry_;  // groups with a TTL: when they expire
  uint64_t next_id_ = 1;
  std::atomic<uint64_t> changes_{0};
  std::atomic<uint64_t> pushes_ok_{0};
  std::atomic<uint64_t> pushes_failed_{0};
  std::atomic<uint64_t> expired_{0};
  std::atomic<uint64_t> hidden_families_{0};  // stored, not exported (check off)
};

}  // namespace metricsgate::storage

#endif  // METRICSGATE_STORAGE_PUSH_STORE_H_
