#include "ingest/line_cache.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace metricsgate::ingest {
namespace {

using Cache = LineCache<int>;

TEST(LineCacheTest, FindsWhatWasInsertedByAllThreeParts) {
  Cache cache(100);
  const LineKey a{'0', "requests", ""};
  const LineKey b{'1', "requests", ""};          // another type
  const LineKey c{'0', "requests", "env:prod"};  // with tags
  const LineKey d{'0', "requests\xff", ""};      // not valid UTF-8, but must not equal c's parts
  EXPECT_EQ(cache.Find(a, Cache::Hash(a)), nullptr);
  *cache.Insert(a, Cache::Hash(a), 1) = 1;
  cache.Insert(b, Cache::Hash(b), 2);
  cache.Insert(c, Cache::Hash(c), 3);
  ASSERT_NE(cache.Find(a, Cache::Hash(a)), nullptr);
  EXPECT_EQ(*cache.Find(a, Cache::Hash(a)), 1);
  EXPECT_EQ(*cache.Find(b, Cache::Hash(b)), 2);
  EXPECT_EQ(*cache.Find(c, Cache::Hash(c)), 3);
  EXPECT_EQ(cache.Find(d, Cache::Hash(d)), nullptr);
  EXPECT_EQ(cache.size(), 3u);
}

TEST(LineCacheTest, EqualHashesAreToldApartByTheKey) {
  Cache cache(100);
  const LineKey a{'0', "alpha", ""};
  const LineKey b{'0', "beta", ""};
  cache.Insert(a, 42, 1);  // the same hash on purpose: a collision
  cache.Insert(b, 42, 2);
  EXPECT_EQ(*cache.Find(a, 42), 1);
  EXPECT_EQ(*cache.Find(b, 42), 2);
  EXPECT_EQ(cache.Find(LineKey{'0', "gamma", ""}, 42), nullptr);
}

TEST(LineCacheTest, LongKeysGrowthAndTheCap) {
  Cache cache(5000);
  std::vector<std::string> names;
  for (int i = 0; i < 5000; ++i) {
    // Half of them longer than a slot holds inline.
    names.push_back((i % 2 ? std::string(100, 'x') : std::string()) + "name." + std::to_string(i));
  }
  for (int i = 0; i < 5000; ++i) {
    const LineKey key{'0', names[i], "k:v"};
    cache.Insert(key, Cache::Hash(key), i);
  }
  for (int i = 0; i < 5000; ++i) {
    const LineKey key{'0', names[i], "k:v"};
    const int* found = cache.Find(key, Cache::Hash(key));
    ASSERT_NE(found, nullptr) << i;
    EXPECT_EQ(*found, i);
  }
  // One more than the cap empties the cache first.
  const LineKey extra{'0', "extra", ""};
  cache.Insert(extra, Cache::Hash(extra), -1);
  EXPECT_EQ(cache.size(), 1u);
  const LineKey first{'0', names[0], "k:v"};
  EXPECT_EQ(cache.Find(first, Cache::Hash(first)), nullptr);
  EXPECT_EQ(*cache.Find(extra, Cache::Hash(extra)), -1);
  // Emptied, it fills up again, in the arrays it kept.
  for (int i = 0; i < 4999; ++i) {
    const LineKey key{'1', names[i], ""};
    cache.Insert(key, Cache::Hash(key), i + 1);
  }
  EXPECT_EQ(cache.size(), 5000u);
  for (int i = 0; i < 4999; ++i) {
    const LineKey key{'1', names[i], ""};
    const int* found = cache.Find(key, Cache::Hash(key));
    ASSERT_NE(found, nullptr) << i;
    EXPECT_EQ(*found, i + 1);
  }
  EXPECT_EQ(*cache.Find(extra, Cache::Hash(extra)), -1);
  EXPECT_EQ(cache.Find(first, Cache::Hash(first)), nullptr);
  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.Find(extra, Cache::Hash(extra)), nullptr);
}

TEST(LineCacheTest, HashDependsOnEveryByteAndPart) {
  const size_t base = Cache::Hash(LineKey{'0', "app.requests.endpoint_1", ""});
  EXPECT_NE(base, Cache::Hash(LineKey{'0', "app.requests.endpoint_2", ""}));
  EXPECT_NE(base, Cache::Hash(LineKey{'0', "bpp.requests.endpoint_1", ""}));
  EXPECT_NE(base, Cache::Hash(LineKey{'1', "app.requests.endpoint_1", ""}));
  EXPECT_NE(base, Cache::Hash(LineKey{'0', "app.requests.endpoint_1", "a"}));
  EXPECT_NE(Cache::Hash(LineKey{'0', "ab", "c"}), Cache::Hash(LineKey{'0', "a", "bc"}));
}

}  // namespace
}  // namespace metricsgate::ingest
