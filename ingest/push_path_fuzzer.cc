// libFuzzer target: any bytes as the path of a push (percent-decoded, then read as a grouping
// key) and as a label selector. Build and run with scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingest/grouping_key.h"
#include "ingest/label_selector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto decoded = metricsgate::ingest::PercentDecode(text); decoded.ok()) {
    if (auto key = metricsgate::ingest::ParseGroupingKey(*decoded); key.ok()) {
      // A key always has a job, sorted unique names.
      bool job = false;
      for (size_t i = 0; i < key->size(); ++i) {
        job |= (*key)[i].first == "job";
        if (i > 0 && !((*key)[i - 1].first < (*key)[i].first)) std::abort();
      }
      if (!job) std::abort();
    }
  }
  if (auto selector = metricsgate::ingest::LabelSelector::Parse(text); selector.ok()) {
    (void)selector->Matches({{"instance", "web-1"}, {"job", "batch"}});
  }
  return 0;
}
