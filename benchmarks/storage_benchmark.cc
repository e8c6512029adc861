// The series store under load, against a plain mutex-guarded map in the same binary:
// - updates of existing counters through handles (the ingest hot path after the per-thread
//   cache), by key (a cache miss), and the baseline's by-key add under one mutex;
// - memory per counter series, measured with the allocator's statistics (jemalloc's, as the
//   server links it: stats.allocated; or glibc's mallinfo2, bytes in use, small and mmapped,
//   where jemalloc is not linked), beyond the bytes of the series' own name;
// - a whole scrape (collect from the store, render text 0.0.4) of 100,000 and 1,000,000 series.
// Items are updates (or series, for the scrape). Threads share one table and one key set.
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "base/string_hash.h"
#include "benchmark/benchmark.h"
#include "export/exposition.h"
#include "export/text_format.h"
#include "storage/epoch.h"
#include "storage/series_key.h"
#include "storage/series_table.h"

// jemalloc's statistics interface; null unless jemalloc is linked (benchmarks/CMakeLists.txt).
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace metricsgate {
namespace {

constexpr int kKeys = 10000;

std::vector<std::string> Keys(int n) {
  std::vector<std::string> keys;
  keys.reserve(n);
  for (int i = 0; i < n; ++i) keys.push_back("app_requests_endpoint_" + std::to_string(i));
  return keys;
}

// One table for every thread of a run, made by the first thread.
storage::SeriesTable* shared_table = nullptr;
std::vector<storage::SeriesTable::Handle>* shared_handles = nullptr;

void BM_Store_AddByHandle(benchmark::State& state) {
  if (state.thread_index() == 0) {
    shared_table = new storage::SeriesTable;
    shared_handles = new std::vector<storage::SeriesTable::Handle>;
    storage::EpochGuard guard;
    for (const std::string& key : Keys(kKeys)) {
      shared_handles->push_back(
          *shared_table->Resolve(key, storage::SeriesTable::Kind::kCounter, {}));
    }
  }
  size_t next = static_cast<size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    storage::EpochGuard guard;  // one section per 20 updates, as per packet
    for (int i = 0; i < 20; ++i) {
      shared_table->Add((*shared_handles)[next % kKeys], 1);
      next += 7;
    }
  }
  state.SetItemsProcessed(state.iterations() * 20);
  if (state.thread_index() == 0) {
    delete shared_handles;
    delete shared_table;
  }
}
BENCHMARK(BM_Store_AddByHandle)->ThreadRange(1, 2)->UseRealTime();

std::vector<std::string>* shared_keys = nullptr;

void BM_Store_AddByKey(benchmark::State& state) {
  if (state.thread_index() == 0) {
    shared_table = new storage::SeriesTable;
    shared_keys = new std::vector<std::string>(Keys(kKeys));
    for (const std::string& key : *shared_keys) (void)shared_table->AddToCounter(key, 1);
  }
  size_t next = static_cast<size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    benchmark::DoNotOptimize(shared_table->AddToCounter((*shared_keys)[next % kKeys], 1));
    next += 7;
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete shared_keys;
    delete shared_table;
  }
}
BENCHMARK(BM_Store_AddByKey)->ThreadRange(1, 2)->UseRealTime();

// The baseline: what a straightforward server does, one mutex around a hash map.
struct MutexMap {
  std::mutex mu;
  absl::flat_hash_map<std::string, double, StringViewHash, StringViewEq> values;
};
MutexMap* shared_map = nullptr;

void BM_MutexMap_AddByKey(benchmark::State& state) {
  if (state.thread_index() == 0) {
    shared_map = new MutexMap;
    shared_keys = new std::vector<std::string>(Keys(kKeys));
    for (const std::string& key : *shared_keys) shared_map->values[key] = 0;
  }
  size_t next = static_cast<size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    const std::string& key = (*shared_keys)[next % kKeys];
    {
      std::lock_guard lock(shared_map->mu);
      shared_map->values.find(key)->second += 1;
    }
    next += 7;
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete shared_keys;
    delete shared_map;
  }
}
BENCHMARK(BM_MutexMap_AddByKey)->ThreadRange(1, 2)->UseRealTime();

// Creating series: each thread creates its own distinct names (the shard mutexes and the name
// registry's are the shared parts). Items are series created.
void BM_Store_Create(benchmark::State& state) {
  constexpr int kPerThread = 200000;
  std::vector<std::string> keys;
  for (int i = 0; i < kPerThread; ++i) {
    keys.push_back("t" + std::to_string(state.thread_index()) + "_series_" + std::to_string(i));
  }
  if (state.thread_index() == 0) shared_table = new storage::SeriesTable;
  for (auto _ : state) {
    for (const std::string& key : keys) (void)shared_table->AddToCounter(key, 1);
  }
  state.SetItemsProcessed(state.iterations() * kPerThread);
  if (state.thread_index() == 0) delete shared_table;
}
BENCHMARK(BM_Store_Create)
    ->ThreadRange(1, 2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// Bytes allocated per counter series beyond its name's bytes, for Arg series with distinct
// names of about 30 bytes and no labels. Reported as the counter bytes_per_series.
void BM_Store_MemoryPerSeries(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  double per_series = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<std::string> keys;
    keys.reserve(n);
    size_t name_bytes = 0;
    for (int i = 0; i < n; ++i) {
      keys.push_back("service_requests_endpoint_" + std::to_string(i));
      name_bytes += keys.back().size();
    }
    const auto in_use = []() -> size_t {
      if (mallctl != nullptr) {  // jemalloc, as the server runs: bytes allocated by the program
        uint64_t epoch = 1;
        mallctl("epoch", nullptr, nullptr, &epoch, sizeof(epoch));  // refreshes the statistics
        size_t allocated = 0;
        size_t size = sizeof(allocated);
        mallctl("stats.allocated", &allocated, &size, nullptr, 0);
        return allocated;
      }
      const struct mallinfo2 info = mallinfo2();
      return info.uordblks + info.hblkhd;  // small chunks + mmapped blocks (large arrays)
    };
    const size_t before = in_use();
    state.ResumeTiming();
    auto table = std::make_unique<storage::SeriesTable>(n);
    for (const std::string& key : keys) (void)table->AddToCounter(key, 1);
    state.PauseTiming();
    storage::EpochDomain::Global().Reclaim();  // index arrays left by growing
    const size_t after = in_use();
    per_series = (static_cast<double>(after - before) - static_cast<double>(name_bytes)) / n;
    table.reset();
    state.ResumeTiming();
  }
  state.counters["bytes_per_series"] = per_series;
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Store_MemoryPerSeries)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// Fills a table with Arg counter series: over 1,000 names with one label (`labelled`), or each
// with its own name and no label (so each is a family with its own HELP and TYPE lines).
void FillCounters(storage::SeriesTable& table, int n, bool labelled) {
  std::string key;
  for (int i = 0; i < n; ++i) {
    if (labelled) {
      const std::string name = "app_requests_" + std::to_string(i % 1000) + "_total";
      const std::string value = "instance-" + std::to_string(i / 1000);
      const storage::LabelView label("instance", value);
      storage::EncodeSeriesKey(name, &label, 1, &key);
    } else {
      key = "stats_app_requests_endpoint_" + std::to_string(i);
    }
    (void)table.AddToCounter(key, 1 + i);
  }
}

// One scrape of `table`: snapshot, sort, and render every piece into `piece` (not kept, as the
// server streams them); returns the body's bytes.
size_t ScrapeOnce(const storage::SeriesTable& table, exporter::Format format, std::string* piece) {
  auto snapshot = std::make_shared<storage::Snapshot>();
  table.AddTo(snapshot.get());
  snapshot->Sort();
  exporter::Renderer renderer(std::move(snapshot), format);
  size_t bytes = 0;
  for (;;) {
    piece->clear();
    if (!renderer.Next(piece)) break;
    bytes += piece->size();
    benchmark::DoNotOptimize(piece->data());
  }
  return bytes;
}

// A whole scrape on one core: snapshot the store, sort, and render every piece of the body
// (as the server streams it; the pieces are not kept). Reports the body's bytes. A steady
// store is scraped in the order the table learnt at the first scrape. Before each scrape
// (outside the timing), kNewSeries adds a series, so every scrape merges a new series into that
// order; kExpiry also lets the one added before it expire (TTL), so one series of the learnt
// order is gone too (a whole sort: BM_Scrape_Text_First, BM_Scrape_SortOnly).
enum class Change { kNone, kNewSeries, kExpiry };
void Scrape(benchmark::State& state, bool labelled, exporter::Format format,
            Change change = Change::kNone) {
  const int n = static_cast<int>(state.range(0));
  std::atomic<int64_t> now_ms{1'000'000'000};
  storage::SeriesTable table(static_cast<size_t>(n) + 100000,
                             [&] { return absl::FromUnixMillis(now_ms.load()); });
  const storage::SeriesOptions ttl{
      .help = "", .buckets = nullptr, .summary = nullptr, .ttl = std::chrono::milliseconds(1)};
  FillCounters(table, n, labelled);
  size_t bytes = 0;
  std::string piece;
  int added = 0;
  // One scrape first, untimed, as a server has done before the scrapes that matter: the
  // snapshot's memory is then reused, not freshly faulted in.
  {
    auto snapshot = std::make_shared<storage::Snapshot>();
    table.AddTo(snapshot.get());
    snapshot->Sort();
  }
  for (auto _ : state) {
    if (change != Change::kNone) {
      state.PauseTiming();
      if (change == Change::kExpiry) {
        now_ms.fetch_add(1);
        (void)table.Expire();  // the series added before the last scrape
        (void)table.AddToCounter("ttl_" + std::to_string(added++), 1, ttl);
      } else {
        (void)table.AddToCounter("cold_" + std::to_string(added++), 1);
      }
      state.ResumeTiming();
    }
    bytes = ScrapeOnce(table, format, &piece);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_Scrape_Text(benchmark::State& state) { Scrape(state, true, exporter::Format::kText); }
BENCHMARK(BM_Scrape_Text)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond);

void BM_Scrape_Text_Cold(benchmark::State& state) {
  Scrape(state, true, exporter::Format::kText, Change::kNewSeries);
}
BENCHMARK(BM_Scrape_Text_Cold)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond);

void BM_Scrape_Text_AfterExpiry(benchmark::State& state) {
  Scrape(state, true, exporter::Format::kText, Change::kExpiry);
}
BENCHMARK(BM_Scrape_Text_AfterExpiry)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond);

void BM_Scrape_Text_DistinctNames_Cold(benchmark::State& state) {
  Scrape(state, false, exporter::Format::kText, Change::kNewSeries);
}
BENCHMARK(BM_Scrape_Text_DistinctNames_Cold)->Arg(1000000)->Unit(benchmark::kMillisecond);

void BM_Scrape_Text_DistinctNames(benchmark::State& state) {
  Scrape(state, false, exporter::Format::kText);
}
BENCHMARK(BM_Scrape_Text_DistinctNames)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond);

void BM_Scrape_OpenMetrics(benchmark::State& state) {
  Scrape(state, true, exporter::Format::kOpenMetrics);
}
BENCHMARK(BM_Scrape_OpenMetrics)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_Scrape_Protobuf(benchmark::State& state) {
  Scrape(state, true, exporter::Format::kProtobuf);
}
BENCHMARK(BM_Scrape_Protobuf)->Arg(100000)->Unit(benchmark::kMillisecond);

// Parts of a 1,000,000-series text scrape: the store's copy into the snapshot; rendering; a
// whole sort.
void BM_Scrape_SnapshotOnly(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  storage::SeriesTable table(static_cast<size_t>(n));
  FillCounters(table, n, true);
  for (auto _ : state) {
    storage::Snapshot snapshot;
    table.AddTo(&snapshot);
    benchmark::DoNotOptimize(snapshot.entries().data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Scrape_SnapshotOnly)->Arg(1000000)->Unit(benchmark::kMillisecond);

// Rendering alone: the text of a sorted snapshot of Arg labelled counters (FillCounters'),
// every piece, as the server streams them.
void BM_Scrape_RenderOnly(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  storage::SeriesTable table(static_cast<size_t>(n));
  FillCounters(table, n, true);
  auto snapshot = std::make_shared<storage::Snapshot>();
  table.AddTo(snapshot.get());
  snapshot->Sort();
  std::string piece;
  size_t bytes = 0;
  for (auto _ : state) {
    exporter::Renderer renderer(snapshot, exporter::Format::kText);
    bytes = 0;
    for (;;) {
      piece.clear();
      if (!renderer.Next(&piece)) break;
      bytes += piece.size();
      benchmark::DoNotOptimize(piece.data());
    }
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Scrape_RenderOnly)->Arg(1000000)->Unit(benchmark::kMillisecond);

// The whole sort of a snapshot in which nothing is in order yet: as at the first scrape, after
// a series was removed (TTL), or after more new series than the table lists between scrapes.
// The keys are FillCounters' (labelled), added in an order of their hashes, as a table walk
// adds them.
void BM_Scrape_SortOnly(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::vector<std::string> keys;
  std::string key;
  for (int i = 0; i < n; ++i) {
    const std::string name = "app_requests_" + std::to_string(i % 1000) + "_total";
    const std::string value = "instance-" + std::to_string(i / 1000);
    const storage::LabelView label("instance", value);
    storage::EncodeSeriesKey(name, &label, 1, &key);
    keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end(), [](const std::string& a, const std::string& b) {
    return StringViewHash{}(a) < StringViewHash{}(b);
  });
  for (auto _ : state) {
    state.PauseTiming();
    storage::Snapshot snapshot;
    const uint32_t help = snapshot.AddHelp("help");
    for (const std::string& k : keys) {
      snapshot.AddScalar(snapshot.CopyKey(k), storage::MetricType::kCounter, help, 1);
    }
    state.ResumeTiming();
    snapshot.Sort();
    benchmark::DoNotOptimize(snapshot.entries().data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Scrape_SortOnly)->Arg(1000000)->Unit(benchmark::kMillisecond);

// The first scrape of a full store: every series sorted. Each iteration fills a new table
// first (untimed). `fresh`: the snapshot's memory is new too, as at a process's first scrape;
// otherwise the buffers kept from the scrape before are reused, as when a new store's first
// scrape follows scrapes of another (or of the same store after a restart of its order).
// A new store's first scrape: its memory reused from the scrape before (kReused), or new as in
// a process's first scrape (kFresh), or after the server's background sorter has learnt the
// order (kSortedAhead: SeriesTable::SortAheadIfDue, untimed, as it runs off the I/O thread).
enum class First { kReused, kFresh, kSortedAhead };

void FirstScrape(benchmark::State& state, First first) {
  const int n = static_cast<int>(state.range(0));
  std::string piece;
  size_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto table = std::make_unique<storage::SeriesTable>(static_cast<size_t>(n));
    FillCounters(*table, n, true);
    if (first == First::kFresh) storage::Snapshot::ReleasePooledBuffers();
    if (first == First::kSortedAhead && !table->SortAheadIfDue()) {
      state.SkipWithError("the store was not due a sort");
    }
    state.ResumeTiming();
    bytes = ScrapeOnce(*table, exporter::Format::kText, &piece);
    state.PauseTiming();
    table.reset();
    state.ResumeTiming();
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_Scrape_Text_First(benchmark::State& state) { FirstScrape(state, First::kReused); }
BENCHMARK(BM_Scrape_Text_First)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

void BM_Scrape_Text_FirstOfProcess(benchmark::State& state) { FirstScrape(state, First::kFresh); }
BENCHMARK(BM_Scrape_Text_FirstOfProcess)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

void BM_Scrape_Text_FirstAfterSortAhead(benchmark::State& state) {
  FirstScrape(state, First::kSortedAhead);
}
BENCHMARK(BM_Scrape_Text_FirstAfterSortAhead)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

}  // namespace
}  // namespace metricsgate
