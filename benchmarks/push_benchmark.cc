// The push path in process: parsing a 100-metric text body, and applying it to a store that
// already holds 1,000 groups of 100 metrics (issue #5's load). Items are pushes.
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "ingest/exposition_parser.h"
#include "storage/push_store.h"
#include "storage/series_table.h"

namespace metricsgate {
namespace {

std::string Body() {
  std::string body;
  for (int i = 0; i < 100; ++i) {
    body += "bench_metric_" + std::to_string(i) + "{kind=\"load\"} " + std::to_string(i) + "\n";
  }
  return body;
}

void BM_Push_ParseText(benchmark::State& state) {
  const std::string body = Body();
  for (auto _ : state) {
    auto parsed = ingest::ParseTextFormat(body);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Push_ParseText);

// A push of `body`'s families to group `group`, parsed afresh as a request would have it.
storage::PushStore::Push MakePush(const std::string& body, int group) {
  storage::PushStore::Push push;
  push.grouping = {{"group", std::to_string(group)}, {"job", "bench"}};
  push.families = std::move(ingest::ParseTextFormat(body)->families);
  return push;
}

// Arg: 1 with the consistency check, 0 without.
void BM_Push_Apply(benchmark::State& state) {
  const std::string body = Body();
  storage::SeriesTable table;
  storage::PushStore store(&table, {.consistency_check = state.range(0) == 1});
  for (int g = 0; g < 1000; ++g) (void)store.Apply(MakePush(body, g));
  int group = 0;
  for (auto _ : state) {
    state.PauseTiming();
    storage::PushStore::Push push = MakePush(body, group++ % 1000);
    state.ResumeTiming();
    benchmark::DoNotOptimize(store.Apply(std::move(push)));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Push_Apply)->Arg(1)->Arg(0);

// A whole push as the HTTP route handles it (the old group prefetched, the body parsed, the push
// applied with the check) to a store of 1,000 x 100, without the timer pauses of BM_Push_Apply.
void BM_Push_Request(benchmark::State& state) {
  const std::string body = Body();
  storage::SeriesTable table;
  storage::PushStore store(&table, {});
  for (int g = 0; g < 1000; ++g) (void)store.Apply(MakePush(body, g));
  int group = 0;
  for (auto _ : state) {
    const int g = group++ % 1000;
    store.Prefetch({{"group", std::to_string(g)}, {"job", "bench"}});  // as the route does
    benchmark::DoNotOptimize(store.Apply(MakePush(body, g)));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Push_Request);

}  // namespace
}  // namespace metricsgate
