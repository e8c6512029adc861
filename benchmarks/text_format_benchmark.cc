// Rendering a scrape in text format 0.0.4. Arg: number of series. Items are series.
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "export/text_format.h"

namespace metricsgate {
namespace {

void BM_RenderText_Series(benchmark::State& state) {
  std::vector<storage::MetricFamily> families;
  for (int64_t i = 0; i < state.range(0); ++i) {
    families.push_back({"app_requests_endpoint_" + std::to_string(i),
                        "Help.",
                        storage::MetricType::kCounter,
                        {{{}, 1234.5 + static_cast<double>(i)}}});
  }
  for (auto _ : state) {
    std::string text = exporter::RenderText(families);
    benchmark::DoNotOptimize(text);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RenderText_Series)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_AppendValue(benchmark::State& state) {
  std::string out;
  double value = 0.1;
  for (auto _ : state) {
    out.clear();
    exporter::AppendValue(value, &out);
    benchmark::DoNotOptimize(out);
    value += 1.75;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AppendValue);

}  // namespace
}  // namespace metricsgate
