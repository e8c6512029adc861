#include "storage/push_store.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "base/str_cat.h"
#include "base/utf8.h"

namespace metricsgate::storage {
namespace {

constexpr std::string_view kInconsistent =
    "pushed metrics are invalid or inconsistent with existing metrics: ";
constexpr std::string_view kOwnPrefix = "metricsgate_";
constexpr std::string_view kPushTime = "push_time_seconds";
constexpr std::string_view kFailureTime = "push_failure_time_seconds";

SeriesTable::Kind KindOf(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return SeriesTable::Kind::kCounter;
    case MetricType::kGauge:
      return SeriesTable::Kind::kGauge;
    case MetricType::kHistogram:
      return SeriesTable::Kind::kHistogram;
    case MetricType::kSummary:
      return SeriesTable::Kind::kSummary;
    case MetricType::kUntyped:
      break;
  }
  return SeriesTable::Kind::kUntyped;
}

std::string GroupKey(const std::vector<Label>& labels) {
  std::string key;
  for (const auto& [name, value] : labels) StrAppend(&key, name, '\xff', value, '\xff');
  return key;
}

// A 64-bit hash of a series' name and labels, the key of the index of pushed series. A hit
// is confirmed against the group's own samples (Exports), so a collision is never a refusal.
// `{job="a", instance=""}` as Go's protobuf text shows a metric's labels, for messages.
std::string LabelText(const std::vector<Label>& labels) {
  std::string text = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    StrAppend(&text, i ? ", " : "", labels[i].first, "=\"", labels[i].second, "\"");
  }
  return text + "}";
}

// Gives every sample the grouping labels (over its own of those names) and `instance=""` if it
// has no instance, sorted.
void Sanitize(const std::vector<Label>& grouping, MetricFamily* family) {
  const auto is_instance = [](const Label& l) { return l.first == "instance"; };
  const bool grouped_instance = std::any_of(grouping.begin(), grouping.end(), is_instance);
  for (Sample& sample : family->samples) {
    // Both lists sorted by name (the parsers sort a sample's labels): merge them, the grouping
    // label winning over the sample's of the same name.
    if (!std::is_sorted(sample.labels.begin(), sample.labels.end())) {
      std::sort(sample.labels.begin(), sample.labels.end());
    }
    // In place, so the parser's spare capacity saves an allocation: drop the labels a grouping
    // label overrides, then merge from the back, each label moved (or copied from the grouping)
    // once into its final slot.
    std::vector<Label>& labels = sample.labels;
    std::erase_if(labels, [&](const Label& label) {
      return std::binary_search(grouping.begin(), grouping.end(), label,
                                [](const Label& a, const Label& b) { return a.first < b.first; });
    });
    const bool add_instance =
        !grouped_instance && std::none_of(labels.begin(), labels.end(), is_instance);
    static const Label kEmptyInstance("instance", "");
    // The labels to merge in, sorted: the grouping's, and instance="" where it sorts.
    const size_t extra = grouping.size() + (add_instance ? 1 : 0);
    const size_t instance_at =
        add_instance ? static_cast<size_t>(
                           std::lower_bound(grouping.begin(), grouping.end(), kEmptyInstance) -
                           grouping.begin())
                     : extra;
    const auto extra_label = [&](size_t k) -> const Label& {
      if (!add_instance || k < instance_at) return grouping[k];
      return k == instance_at ? kEmptyInstance : grouping[k - 1];
    };
    size_t own = labels.size();
    labels.resize(own + extra);
    for (size_t out = labels.size(), more = extra; more > 0;) {
      const Label& next = extra_label(more - 1);
      if (own > 0 && next.first < labels[own - 1].first) {
        labels[--out] = std::move(labels[--own]);
      } else {
        labels[--out] = next;
        --more;
      }
    }
  }
  // Samples in label order: duplicates end up adjacent, and Exports() can binary-search.
  const auto by_labels = [](const Sample& a, const Sample& b) { return a.labels < b.labels; };
  if (!std::is_sorted(family->samples.begin(), family->samples.end(), by_labels)) {
    std::stable_sort(family->samples.begin(), family->samples.end(), by_labels);
  }
}

// What Pushgateway's gather finds wrong inside one push: invalid names, invalid UTF-8,
// reserved or repeated label names, and two series with the same labels.
absl::Status CheckFamily(const MetricFamily& family) {
  if (!IsValidMetricName(family.name)) {
    return absl::InvalidArgumentError(StrCat("\"", family.name, "\" is not a valid metric name"));
  }
  for (const Sample& sample : family.samples) {
    for (size_t i = 0; i < sample.labels.size(); ++i) {
      const auto& [name, value] = sample.labels[i];
      if (!IsValidLabelName(name)) {
        return absl::InvalidArgumentError(StrCat("collected metric \"", family.name, "\" ",
                                                 LabelText(sample.labels), " has a label named \"",
                                                 name, "\" but the label name is invalid"));
      }
      if (i > 0 && sample.labels[i - 1].first == name) {
        return absl::InvalidArgumentError(
            StrCat("collected metric \"", family.name, "\" ", LabelText(sample.labels),
                   " has two or more labels with the same name: ", name));
      }
      if (!IsValidUtf8(value)) {
        return absl::InvalidArgumentError(
            StrCat("label ", name, ": value of metric \"", family.name, "\" is not valid UTF-8"));
      }
      if ((family.type == MetricType::kHistogram && name == "le") ||
          (family.type == MetricType::kSummary && name == "quantile")) {
        return absl::InvalidArgumentError(StrCat("collected metric \"", family.name, "\" ",
                                                 LabelText(sample.labels),
                                                 " has a reserved label name \"", name, "\""));
      }
    }
  }
  for (size_t i = 1; i < family.samples.size(); ++i) {  // sorted by Sanitize()
    if (family.samples[i].labels == family.samples[i - 1].labels) {
      return absl::InvalidArgumentError(StrCat("collected metric \"", family.name, "\" ",
                                               LabelText(family.samples[i].labels),
                                               " was collected before with the same name and "
                                               "label values"));
    }
  }
  return absl::OkStatus();
}

// Whether `group` exports the series `family`{`labels`}.
bool Exports(const PushStore::Group& group, std::string_view family,
             const std::vector<Label>& labels) {
  auto it = std::lower_bound(
      group.families.begin(), group.families.end(), family,
      [](const PushStore::Family& f, std::string_view name) { return f.family.name < name; });
  if (it == group.families.end() || it->family.name != family || !it->exported) return false;
  auto sample =
      std::lower_bound(it->family.samples.begin(), it->family.samples.end(), labels,
                       [](const Sample& s, const std::vector<Label>& l) { return s.labels < l; });
  return sample != it->family.samples.end() && sample->labels == labels;
}

double Seconds(absl::Time time) { return absl::ToDoubleSeconds(time - absl::UnixEpoch()); }

// The little binary writer and reader of Serialize() / Restore().
void PutU64(uint64_t value, std::string* out) {
  char bytes[8];
  std::memcpy(bytes, &value, 8);
  out->append(bytes, 8);
}
void PutDouble(double value, std::string* out) {
  uint64_t bits;
  std::memcpy(&bits, &value, 8);
  PutU64(bits, out);
}
void PutString(std::string_view text, std::string* out) {
  PutU64(text.size(), out);
  out->append(text);
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool U64(uint64_t* value) {
    if (data_.size() < 8) return false;
    std::memcpy(value, data_.data(), 8);
    data_.remove_prefix(8);
    return true;
  }
  bool Double(double* value) {
    uint64_t bits;
    if (!U64(&bits)) return false;
    std::memcpy(value, &bits, 8);
    return true;
  }
  bool String(std::string* text) {
    uint64_t size;
    if (!U64(&size) || size > data_.size()) return false;
    text->assign(data_.substr(0, size));
    data_.remove_prefix(size);
    return true;
  }
  // A count of items that each take at least `min_bytes`: refuses counts the data cannot hold.
  bool Count(uint64_t* count, size_t min_bytes) {
    return U64(count) && *count <= data_.size() / min_bytes;
  }
  bool done() const { return data_.empty(); }

 private:
  std::string_view data_;
};

constexpr std::string_view kMagic = "metricsgate push store 1\n";

}  // namespace

PushStore::PushStore(SeriesTable* names, Options options, std::function<absl::Time()> clock)
    : names_(names), options_(options), clock_(std::move(clock)) {}

PushStore::~PushStore() {
  std::lock_guard lock(mu_);
  for (const auto& [key, group] : groups_) {
    for (const Family& family : group->families) {
      if (family.exported) names_->ReleaseName(family.family.name, KindOf(family.family.type));
    }
  }
}

void PushStore::Forget(const Family& family) {
  if (family.exported) {
    names_->ReleaseName(family.family.name, KindOf(family.family.type));
  } else {
    hidden_families_.fetch_sub(1, std::memory_order_relaxed);
  }
}

std::string PushStore::NameSetKey(const std::vector<Label>& grouping) {
  std::string key;
  for (const Label& label : grouping) StrAppend(&key, label.first, '\xff');
  return key;
}

void PushStore::CountNameSet(const std::vector<Label>& grouping, int delta) {
  auto [it, inserted] = name_sets_.try_emplace(NameSetKey(grouping));
  if (inserted) {
    for (const Label& label : grouping) it->second.names.push_back(label.first);
  }
  it->second.groups += delta;
  if (it->second.groups == 0) name_sets_.erase(it);
}

const PushStore::Group* PushStore::HolderOf(const std::vector<Label>& grouping,
                                            std::string_view family,
                                            const std::vector<Label>& labels) const {
  std::string key;
  for (const auto& [set_key, set] : name_sets_) {
    if (set.names.size() == grouping.size() &&
        std::equal(set.names.begin(), set.names.end(), grouping.begin(),
                   [](const std::string& n, const Label& l) { return n == l.first; })) {
      continue;  // the pushing group's own names: only the group itself has these values
    }
    // The group with these names that the series' labels would belong to, if it exists.
    key.clear();
    auto label = labels.begin();
    bool present = true;
    for (const std::string& name : set.names) {  // both sorted by name
      while (label != labels.end() && label->first < name) ++label;
      if (label == labels.end() || label->first != name) {
        present = false;
        break;
      }
      StrAppend(&key, label->first, '\xff', label->second, '\xff');
    }
    if (!present) continue;
    auto holder = groups_.find(key);
    if (holder != groups_.end() && Exports(*holder->second, family, labels)) {
      return holder->second.get();
    }
  }
  return nullptr;
}

void PushStore::Prefetch(const std::vector<Label>& grouping) const {
  GroupPtr group;
  {
    std::lock_guard lock(mu_);
    auto it = groups_.find(GroupKey(grouping));
    if (it == groups_.end()) return;
    group = it->second;
  }
  // Destroying a sample reads its buffer, then its labels' buffer: two dependent misses per
  // family. Load the first level now; its pointers to the second are read at the end.
  for (const Family& family : group->families) {
    const Sample* samples = family.family.samples.data();
    for (size_t i = 0; i < family.family.samples.size(); ++i) {
      __builtin_prefetch(&samples[i]);
      __builtin_prefetch(reinterpret_cast<const char*>(&samples[i]) + 64);
    }
  }
}

absl::Status PushStore::Apply(Push push) {
  // Outside the lock: sanitize and check the push on its own.
  std::vector<MetricFamily>& families = push.families;
  std::erase_if(families, [](const MetricFamily& f) {
    return f.name == kPushTime || f.name == kFailureTime;  // ours override them
  });
  const auto by_name = [](const MetricFamily& a, const MetricFamily& b) { return a.name < b.name; };
  if (!std::is_sorted(families.begin(), families.end(), by_name)) {
    // Sorted through indexes: a family is heavy to swap.
    std::vector<size_t> order(families.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return families[a].name < families[b].name; });
    std::vector<MetricFamily> sorted;
    sorted.reserve(families.size());
    for (size_t i : order) sorted.push_back(std::move(families[i]));
    families.swap(sorted);
  }
  absl::Status problem;
  for (MetricFamily& family : families) {
    Sanitize(push.grouping, &family);
    if (problem.ok() && options_.consistency_check) problem = CheckFamily(family);
  }
  if (push.has_timestamp) {
    problem = absl::InvalidArgumentError("pushed metrics must not have timestamps");
  }
  const std::string key = GroupKey(push.grouping);
  const absl::Time now = clock_();
  const std::chrono::milliseconds ttl = push.ttl.value_or(options_.default_ttl);

  GroupPtr previous;  // freed after the lock is released
  std::lock_guard lock(mu_);
  auto it = groups_.find(key);
  if (it != groups_.end()) previous = it->second;
  const Group* old = previous.get();
  if (old != nullptr) {
    // The second level of Prefetch(): the samples' labels, freed at the end of this call.
    for (const Family& family : old->families) {
      for (const Sample& sample : family.family.samples) {
        const char* labels = reinterpret_cast<const char*>(sample.labels.data());
        const size_t bytes = sample.labels.size() * sizeof(Label);
        for (size_t at = 0; at < bytes; at += 64) __builtin_prefetch(labels + at);
      }
    }
  }
  auto group = std::make_shared<Group>();
  group->id = old ? old->id : next_id_++;
  group->labels = push.grouping;
  group->ttl = old ? old->ttl : ttl;
  if (old) {
    group->push_time = old->push_time;
    group->failure_time = old->failure_time;
  }
  const auto fail = [&](const absl::Status& status) -> absl::Status {
    if (old) group->families = old->families;
    group->failure_time = now;
    if (!old && group->ttl.count() > 0) expiry_[group->id] = now + absl::FromChrono(group->ttl);
    if (!old) CountNameSet(group->labels, +1);
    groups_[key] = std::move(group);
    changes_.fetch_add(1, std::memory_order_release);
    pushes_failed_.fetch_add(1, std::memory_order_relaxed);
    // With the check off, a push is refused only for timestamps, and silently (202).
    if (!options_.consistency_check) return absl::OkStatus();
    return absl::InvalidArgumentError(StrCat(kInconsistent, status.message()));
  };
  if (!problem.ok()) return fail(problem);

  // Which of the group's families this push replaces: all (PUT) or those it names (POST).
  const auto pushed = [&](std::string_view name) {
    auto it =
        std::lower_bound(families.begin(), families.end(), name,
                         [](const MetricFamily& f, std::string_view n) { return f.name < n; });
    return it != families.end() && it->name == name;
  };
  std::vector<const Family*> replaced;
  std::vector<const Family*> kept;
  if (old) {
    for (const Family& family : old->families) {
      (push.replace || pushed(family.family.name) ? replaced : kept).push_back(&family);
    }
  }
  // Pair each pushed family with the one of its name it replaces (both lists are sorted).
  std::vector<int> before(families.size(), -1);  // index into `replaced`
  for (size_t f = 0, r = 0; f < families.size() && r < replaced.size();) {
    const int order = families[f].name.compare(replaced[r]->family.name);
    if (order == 0) before[f] = static_cast<int>(r);
    if (order <= 0) ++f;
    if (order >= 0) ++r;
  }
  if (options_.consistency_check && name_sets_.size() > (old ? 1 : 0)) {
    // Another group can hold a pushed series only if its grouping labels are among the
    // series' labels; there are as many candidates as sets of grouping label names in use.
    for (const MetricFamily& family : families) {
      for (const Sample& sample : family.samples) {
        if (HolderOf(push.grouping, family.name, sample.labels) != nullptr) {
          problem = absl::InvalidArgumentError(
              StrCat("collected metric \"", family.name, "\" ", LabelText(sample.labels),
                     " was collected before with the same name and label values"));
          return fail(problem);
        }
      }
    }
  }
  // Names: a family keeps the claim of the family it replaces when the type is the same;
  // otherwise that claim is given back and a new one taken. Undone if any claim fails.
  std::vector<Family> added;
  added.reserve(families.size());
  enum Claim : uint8_t { kForget, kReused, kReleased };  // what became of a replaced family's claim
  std::vector<Claim> claims(replaced.size(), kForget);
  const auto undo = [&] {
    for (size_t f = 0; f < added.size(); ++f) {
      const bool reused = before[f] >= 0 && claims[before[f]] == kReused;
      if (added[f].exported && !reused) {
        names_->ReleaseName(added[f].family.name, KindOf(added[f].family.type));
      }
    }
    for (size_t r = 0; r < replaced.size(); ++r) {
      // Taken back; the name was ours a moment ago, so this can fail only if a StatsD series
      // took it in between, and then the old family stays hidden.
      if (claims[r] == kReleased) {
        (void)names_->ClaimName(replaced[r]->family.name, KindOf(replaced[r]->family.type));
      }
    }
  };
  for (size_t f = 0; f < families.size(); ++f) {
    Family entry{std::move(families[f]), now, true};
    const Family* old_family = before[f] >= 0 ? replaced[before[f]] : nullptr;
    if (old_family && old_family->exported && old_family->family.type == entry.family.type) {
      claims[before[f]] = kReused;
    } else {
      if (old_family && old_family->exported) {
        names_->ReleaseName(old_family->family.name, KindOf(old_family->family.type));
        claims[before[f]] = kReleased;
      }
      // metricsgate's own metrics are not in the registry: their namespace is refused whole,
      // as StatsD names in it are.
      absl::Status claimed =
          entry.family.name.starts_with(kOwnPrefix)
              ? absl::FailedPreconditionError(
                    StrCat("the name is in metricsgate's own namespace (", kOwnPrefix, ")"))
              : names_->ClaimName(entry.family.name, KindOf(entry.family.type));
      if (!claimed.ok()) {
        if (options_.consistency_check) {
          undo();
          problem = absl::InvalidArgumentError(
              StrCat("family \"", entry.family.name, "\" pushed as ",
                     MetricTypeName(entry.family.type), ": ", claimed.message()));
          return fail(problem);
        }
        entry.exported = false;
      }
    }
    added.push_back(std::move(entry));
  }
  // Applied: the claims not moved or reused above are given back.
  for (size_t r = 0; r < replaced.size(); ++r) {
    if (claims[r] == kForget) Forget(*replaced[r]);
  }
  // Both sorted by name: merge.
  group->families.reserve(kept.size() + added.size());
  size_t next_kept = 0;
  for (Family& family : added) {
    while (next_kept < kept.size() && kept[next_kept]->family.name < family.family.name) {
      group->families.push_back(*kept[next_kept++]);
    }
    if (!family.exported) hidden_families_.fetch_add(1, std::memory_order_relaxed);
    group->families.push_back(std::move(family));
  }
  while (next_kept < kept.size()) group->families.push_back(*kept[next_kept++]);
  group->push_time = now;
  group->ttl = ttl;
  if (ttl.count() > 0) {
    expiry_[group->id] = now + absl::FromChrono(ttl);
  } else {
    expiry_.erase(group->id);
  }
  if (!old) CountNameSet(group->labels, +1);
  groups_[key] = std::move(group);
  changes_.fetch_add(1, std::memory_order_release);
  pushes_ok_.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

void PushStore::RemoveLocked(const std::string& key) {
  auto it = groups_.find(key);
  if (it == groups_.end()) return;
  for (const Family& family : it->second->families) Forget(family);
  expiry_.erase(it->second->id);
  CountNameSet(it->second->labels, -1);
  groups_.erase(it);
  changes_.fetch_add(1, std::memory_order_release);
}

bool PushStore::Delete(const std::vector<Label>& grouping) {
  const std::string key = GroupKey(grouping);
  std::lock_guard lock(mu_);
  if (!groups_.contains(key)) return false;
  RemoveLocked(key);
  return true;
}

size_t PushStore::DeleteIf(const std::function<bool(const std::vector<Label>&)>& match) {
  std::lock_guard lock(mu_);
  std::vector<std::string> doomed;
  for (const auto& [key, group] : groups_) {
    if (match(group->labels)) doomed.push_back(key);
  }
  for (const std::string& key : doomed) RemoveLocked(key);
  return doomed.size();
}

size_t PushStore::Expire() {
  const absl::Time now = clock_();
  std::lock_guard lock(mu_);
  if (expiry_.empty()) return 0;
  std::vector<std::string> doomed;
  for (const auto& [key, group] : groups_) {
    auto it = expiry_.find(group->id);
    if (it != expiry_.end() && it->second <= now) doomed.push_back(key);
  }
  for (const std::string& key : doomed) RemoveLocked(key);
  expired_.fetch_add(doomed.size(), std::memory_order_relaxed);
  return doomed.size();
}

std::vector<std::shared_ptr<const PushStore::Group>> PushStore::Groups() const {
  std::vector<GroupPtr> groups;
  {
    std::lock_guard lock(mu_);
    groups.reserve(groups_.size());
    for (const auto& [key, group] : groups_) groups.push_back(group);
  }
  std::sort(groups.begin(), groups.end(),
            [](const GroupPtr& a, const GroupPtr& b) { return a->labels < b->labels; });
  return groups;
}

size_t PushStore::size() const {
  std::lock_guard lock(mu_);
  return groups_.size();
}

std::vector<MetricFamily> PushStore::PushTimes(const Group& group) {
  std::vector<MetricFamily> times = {
      {std::string(kFailureTime),
       "Last Unix time when changing this group in the Pushgateway failed.",
       MetricType::kGauge,
       {Sample{{}, Seconds(group.failure_time)}}},
      {std::string(kPushTime),
       "Last Unix time when changing this group in the Pushgateway succeeded.",
       MetricType::kGauge,
       {Sample{{}, Seconds(group.push_time)}}}};
  for (MetricFamily& family : times) Sanitize(group.labels, &family);
  return times;
}

void PushStore::Collect(std::vector<MetricFamily>* out) const {
  const std::vector<GroupPtr> groups = Groups();
  if (groups.empty()) return;
  std::vector<MetricFamily> times;  // one family each, all groups' samples
  for (const GroupPtr& group : groups) {
    for (const Family& family : group->families) {
      if (family.exported) out->push_back(family.family);
    }
    std::vector<MetricFamily> own = PushTimes(*group);
    if (times.empty()) {
      times = std::move(own);
      continue;
    }
    for (size_t i = 0; i < times.size(); ++i) {
      times[i].samples.push_back(std::move(own[i].samples[0]));
    }
  }
  for (MetricFamily& family : times) out->push_back(std::move(family));
}

void PushStore::AddTo(Snapshot* out) const {
  const std::vector<GroupPtr> groups = Groups();
  for (const GroupPtr& group : groups) {
    for (const Family& family : group->families) {
      if (!family.exported) continue;
      const MetricFamily& f = family.family;
      const uint32_t help = out->AddHelp(f.help);
      for (const Sample& sample : f.samples) out->AddSample(f.name, f.type, help, sample);
    }
    out->AddFamilies(PushTimes(*group));
  }
}

void PushStore::CollectOwnMetrics(std::vector<MetricFamily>* out) const {
  const auto counter = [&](std::string name, std::string help, double value) {
    out->push_back({std::move(name), std::move(help), MetricType::kCounter, {Sample{{}, value}}});
  };
  out->push_back({"metricsgate_push_groups",
                  "Groups held from the push API.",
                  MetricType::kGauge,
                  {Sample{{}, static_cast<double>(size())}}});
  out->push_back({"metricsgate_push_hidden_families",
                  "Pushed families kept out of /metrics because another type holds their name "
                  "(only with --push.disable-consistency-check).",
                  MetricType::kGauge,
                  {Sample{{}, static_cast<double>(hidden_families_.load())}}});
  out->push_back({"metricsgate_push_requests_total",
                  "Pushes (PUT and POST) applied or refused by the consistency check.",
                  MetricType::kCounter,
                  {Sample{{{"result", "failure"}}, static_cast<double>(pushes_failed_.load())},
                   Sample{{{"result", "success"}}, static_cast<double>(pushes_ok_.load())}}});
  counter("metricsgate_push_groups_expired_total", "Pushed groups removed when their TTL passed.",
          static_cast<double>(expired_.load()));
}

std::string PushStore::Serialize() const {
  const std::vector<GroupPtr> groups = Groups();
  std::string out(kMagic);
  PutU64(groups.size(), &out);
  for (const GroupPtr& group : groups) {
    PutU64(group->labels.size(), &out);
    for (const auto& [name, value] : group->labels) {
      PutString(name, &out);
      PutString(value, &out);
    }
    PutU64(static_cast<uint64_t>(absl::ToUnixNanos(group->push_time)), &out);
    PutU64(static_cast<uint64_t>(absl::ToUnixNanos(group->failure_time)), &out);
    PutU64(static_cast<uint64_t>(group->ttl.count()), &out);
    PutU64(group->families.size(), &out);
    for (const Family& f : group->families) {
      PutString(f.family.name, &out);
      PutString(f.family.help, &out);
      PutU64(static_cast<uint64_t>(f.family.type), &out);
      PutU64(static_cast<uint64_t>(absl::ToUnixNanos(f.pushed)), &out);
      PutU64(f.family.samples.size(), &out);
      for (const Sample& sample : f.family.samples) {
        PutU64(sample.labels.size(), &out);
        for (const auto& [name, value] : sample.labels) {
          PutString(name, &out);
          PutString(value, &out);
        }
        PutDouble(sample.value, &out);
        const auto& histogram = sample.histogram;
        PutU64(histogram ? histogram->buckets.size() + 1 : 0, &out);
        if (histogram) {
          PutDouble(histogram->sum, &out);
          for (const auto& [bound, count] : histogram->buckets) {
            PutDouble(bound, &out);
            PutDouble(count, &out);
          }
        }
        const auto& summary = sample.summary;
        PutU64(summary ? summary->quantiles.size() + 1 : 0, &out);
        if (summary) {
          PutDouble(summary->sum, &out);
          PutDouble(summary->count, &out);
          for (const auto& [q, value] : summary->quantiles) {
            PutDouble(q, &out);
            PutDouble(value, &out);
          }
        }
      }
    }
  }
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(out.data()), static_cast<uInt>(out.size())));
  PutU64(crc, &out);
  return out;
}

absl::Status PushStore::Restore(std::string_view image) {
  const auto corrupt = [](std::string_view what) {
    return absl::DataLossError(StrCat("the push store image is corrupt: ", what));
  };
  if (!image.starts_with(kMagic)) return corrupt("it does not start with the format's header");
  if (image.size() < kMagic.size() + 16) return corrupt("it is truncated");
  uint64_t stored_crc;
  std::memcpy(&stored_crc, image.data() + image.size() - 8, 8);
  const std::string_view body = image.substr(0, image.size() - 8);
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
  if (crc != stored_crc) return corrupt("its checksum does not match (truncated or damaged)");
  Reader in(body.substr(kMagic.size()));
  std::vector<Group> groups;
  uint64_t group_count;
  if (!in.Count(&group_count, 40)) return corrupt("bad group count");
  for (uint64_t g = 0; g < group_count; ++g) {
    Group group;
    uint64_t n;
    if (!in.Count(&n, 16)) return corrupt("bad label count");
    for (uint64_t i = 0; i < n; ++i) {
      Label label;
      if (!in.String(&label.first) || !in.String(&label.second)) return corrupt("bad label");
      group.labels.push_back(std::move(label));
    }
    uint64_t push_ns, failure_ns, ttl_ms, family_count;
    if (!in.U64(&push_ns) || !in.U64(&failure_ns) || !in.U64(&ttl_ms) ||
        !in.Count(&family_count, 40)) {
      return corrupt("bad group header");
    }
    group.push_time = absl::FromUnixNanos(static_cast<int64_t>(push_ns));
    group.failure_time = absl::FromUnixNanos(static_cast<int64_t>(failure_ns));
    group.ttl = std::chrono::milliseconds(static_cast<int64_t>(ttl_ms));
    for (uint64_t f = 0; f < family_count; ++f) {
      Family family;
      uint64_t type, pushed_ns, sample_count;
      if (!in.String(&family.family.name) || !in.String(&family.family.help) || !in.U64(&type) ||
          type > static_cast<uint64_t>(MetricType::kUntyped) || !in.U64(&pushed_ns) ||
          !in.Count(&sample_count, 32)) {
        return corrupt("bad family header");
      }
      family.family.type = static_cast<MetricType>(type);
      family.pushed = absl::FromUnixNanos(static_cast<int64_t>(pushed_ns));
      for (uint64_t s = 0; s < sample_count; ++s) {
        Sample sample;
        uint64_t label_count, buckets, quantiles;
        if (!in.Count(&label_count, 16)) return corrupt("bad sample");
        for (uint64_t i = 0; i < label_count; ++i) {
          Label label;
          if (!in.String(&label.first) || !in.String(&label.second)) return corrupt("bad label");
          sample.labels.push_back(std::move(label));
        }
        if (!in.Double(&sample.value) || !in.Count(&buckets, 8)) return corrupt("bad sample");
        if (buckets > 0) {
          sample.histogram.emplace();
          if (!in.Double(&sample.histogram->sum)) return corrupt("bad histogram");
          for (uint64_t b = 1; b < buckets; ++b) {
            double bound, count;
            if (!in.Double(&bound) || !in.Double(&count)) return corrupt("bad histogram");
            sample.histogram->buckets.emplace_back(bound, count);
          }
        }
        if (!in.Count(&quantiles, 8)) return corrupt("bad sample");
        if (quantiles > 0) {
          sample.summary.emplace();
          if (!in.Double(&sample.summary->sum) || !in.Double(&sample.summary->count)) {
            return corrupt("bad summary");
          }
          for (uint64_t q = 1; q < quantiles; ++q) {
            double at, value;
            if (!in.Double(&at) || !in.Double(&value)) return corrupt("bad summary");
            sample.summary->quantiles.emplace_back(at, value);
          }
        }
        family.family.samples.push_back(std::move(sample));
      }
      group.families.push_back(std::move(family));
    }
    groups.push_back(std::move(group));
  }
  if (!in.done()) return corrupt("bytes after the last group");
  // Decoded whole: now take the names and publish.
  std::lock_guard lock(mu_);
  for (Group& group : groups) {
    group.id = next_id_++;
    for (Family& family : group.families) {
      family.exported = names_->ClaimName(family.family.name, KindOf(family.family.type)).ok();
      if (!family.exported) hidden_families_.fetch_add(1, std::memory_order_relaxed);
      std::stable_sort(family.family.samples.begin(), family.family.samples.end(),
                       [](const Sample& a, const Sample& b) { return a.labels < b.labels; });
    }
    if (group.ttl.count() > 0) {
      // A restored group's TTL runs from its last push, as if the server had not stopped.
      expiry_[group.id] =
          std::max(group.push_time, group.failure_time) + absl::FromChrono(group.ttl);
    }
    const std::string key = GroupKey(group.labels);
    auto published = std::make_shared<Group>(std::move(group));
    CountNameSet(published->labels, +1);
    groups_[key] = std::move(published);
  }
  changes_.fetch_add(1, std::memory_order_release);
  return absl::OkStatus();
}

}  // namespace metricsgate::storage
