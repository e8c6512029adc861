// libFuzzer target: any bytes as a push body (the first byte picks text or protobuf), parsed
// and applied to a push store, whose image must then restore to the same store; or, with a
// third choice, any bytes as a persistence image. Build and run with scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingest/exposition_parser.h"
#include "storage/push_store.h"
#include "storage/series_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using metricsgate::storage::PushStore;
  using metricsgate::storage::SeriesTable;
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  SeriesTable table;
  PushStore store(&table, {});
  if (data[0] % 3 == 2) {
    (void)store.Restore(body);  // must refuse garbage cleanly
    return 0;
  }
  auto parsed = data[0] % 3 == 0 ? metricsgate::ingest::ParseTextFormat(body)
                                 : metricsgate::ingest::ParseProtoDelimited(body);
  if (!parsed.ok()) return 0;
  PushStore::Push push;
  push.grouping = {{"instance", "i"}, {"job", "fuzz"}};
  push.families = parsed->families;
  push.has_timestamp = parsed->has_timestamp;
  (void)store.Apply(push);
  push.replace = false;
  push.grouping = {{"job", "fuzz"}};
  (void)store.Apply(push);
  const std::string image = store.Serialize();
  SeriesTable other_table;
  PushStore restored(&other_table, {});
  if (!restored.Restore(image).ok() || restored.Serialize() != image) std::abort();
  return 0;
}
