// The Graphite flush on one core: latching an interval out of the RollupTable, computing
// Etsy's rollups in chunks and encoding them for carbon in 1 MiB pieces (as the server's flush
// thread and GraphiteForwarder::Encode do), for N series. Issue #7 asks 1,000,000 series in <= 1 s.
// Variants: counters only (each sends rate and count), and a StatsD mix (80% counters, 10% gauges,
// 10% timers with 10 values each, which send 19 values per timer); plaintext or pickle. A flush
// reuses the buffers of the flush before, as the server's flush thread does: the `_Cold` variants
// time the first flush of a fresh server instead, whose buffers all come from new memory.
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "export/carbon_protocol.h"
#include "export/graphite_rollup.h"
#include "storage/rollup_table.h"

namespace metricsgate {
namespace {

void Fill(storage::RollupTable& table, int64_t series, bool mix) {
  std::string key;
  for (int64_t i = 0; i < series; ++i) {
    key = "app.host" + std::to_string(i % 1000) + ".metric" + std::to_string(i);
    const int64_t kind = mix ? i % 10 : 0;
    if (kind < 8) {
      table.AddCounter(key, 1);
    } else if (kind == 8) {
      table.SetGauge(key, static_cast<double>(i), false);
    } else {
      for (int v = 0; v < 10; ++v) table.AddTimer(key, (v * 37 + i) % 100, 1);
    }
  }
}

void FlushOnce(storage::RollupTable& table, storage::RollupInterval& interval,
               exporter::GraphiteBatch& batch, exporter::CarbonEncoder& encoder,
               benchmark::State& state) {
  const auto t0 = std::chrono::steady_clock::now();
  table.EndInterval(&interval);
  const auto t1 = std::chrono::steady_clock::now();
  batch.Clear();
  batch.timestamp = 1'700'000'000;
  // As the server's flush: chunks of the batch go to the encoder as they fill.
  batch.drain = [&encoder](const exporter::GraphiteBatch& chunk) {
    for (const auto& point : chunk.points)
      encoder.Add(chunk.name(point), point.value, chunk.timestamp);
  };
  exporter::ComputeGraphiteRollups(interval, {}, {}, &batch);
  batch.End();
  std::vector<exporter::CarbonEncoder::Piece> pieces = encoder.Finish();
  size_t bytes = 0, points = 0;
  for (const auto& piece : pieces) {
    bytes += piece.bytes.size();
    points += piece.points;
  }
  benchmark::DoNotOptimize(pieces.data());
  // Written: the buffers go back for the next flush, as the forwarder gives them back.
  for (auto& piece : pieces) encoder.Recycle(std::move(piece.bytes));
  const auto t2 = std::chrono::steady_clock::now();
  const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  // Each phase's time in the last round.
  state.counters["latch_ms"] = ms(t1 - t0);
  state.counters["rollup_encode_ms"] = ms(t2 - t1);
  state.counters["points"] = static_cast<double>(points);
  state.counters["bytes"] = static_cast<double>(bytes);
}

void Run(benchmark::State& state, bool mix, bool pickle, bool cold) {
  for (auto _ : state) {
    state.PauseTiming();
    auto table = std::make_unique<storage::RollupTable>();
    auto interval = std::make_unique<storage::RollupInterval>();
    auto batch = std::make_unique<exporter::GraphiteBatch>();
    auto encoder = std::make_unique<exporter::CarbonEncoder>(pickle);
    Fill(*table, state.range(0), mix);
    if (!cold) {
      FlushOnce(*table, *interval, *batch, *encoder, state);  // the flush before
      Fill(*table, state.range(0), mix);
    }
    state.ResumeTiming();
    FlushOnce(*table, *interval, *batch, *encoder, state);
    state.PauseTiming();
    table.reset();  // not timed: freeing a million series
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_GraphiteFlush_Counters(benchmark::State& state) { Run(state, false, false, false); }
void BM_GraphiteFlush_Mix(benchmark::State& state) { Run(state, true, false, false); }
void BM_GraphiteFlush_MixPickle(benchmark::State& state) { Run(state, true, true, false); }
void BM_GraphiteFlush_Mix_Cold(benchmark::State& state) { Run(state, true, false, true); }

BENCHMARK(BM_GraphiteFlush_Counters)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK(BM_GraphiteFlush_Mix)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK(BM_GraphiteFlush_MixPickle)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_GraphiteFlush_Mix_Cold)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace metricsgate

BENCHMARK_MAIN();
