#include "storage/epoch.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace metricsgate::storage {
namespace {

struct Counted {
  explicit Counted(std::atomic<int>* f) : freed(f) {}
  ~Counted() { freed->fetch_add(1); }
  std::atomic<int>* freed;
};

TEST(EpochDomainTest, OpenSectionHoldsBackWhatWasRetiredDuringIt) {
  EpochDomain domain;
  std::atomic<int> freed{0};
  auto* object = new Counted(&freed);
  {
    EpochGuard guard(domain);
    domain.Retire(object);
    EXPECT_EQ(domain.Reclaim(), 0u);
    EXPECT_EQ(freed.load(), 0);
    EXPECT_EQ(domain.pending(), 1u);
  }
  EXPECT_EQ(domain.Reclaim(), 1u);
  EXPECT_EQ(freed.load(), 1);
  EXPECT_EQ(domain.pending(), 0u);
}

TEST(EpochDomainTest, SectionOpenedAfterRetireDoesNotHoldItBack) {
  EpochDomain domain;
  std::atomic<int> freed{0};
  domain.Retire(new Counted(&freed));
  EpochGuard guard(domain);
  EXPECT_EQ(domain.Reclaim(), 1u);
  EXPECT_EQ(freed.load(), 1);
}

TEST(EpochDomainTest, NestedSectionsEndWithTheOutermost) {
  EpochDomain domain;
  std::atomic<int> freed{0};
  {
    EpochGuard outer(domain);
    domain.Retire(new Counted(&freed));
    { EpochGuard inner(domain); }
    EXPECT_EQ(domain.Reclaim(), 0u);  // the outer section is still open
  }
  EXPECT_EQ(domain.Reclaim(), 1u);
}

TEST(EpochDomainTest, SectionOnAnotherThreadHoldsBack) {
  EpochDomain domain;
  std::atomic<int> freed{0};
  std::atomic<int> stage{0};
  std::thread reader([&] {
    EpochGuard guard(domain);
    stage.store(1);
    while (stage.load() != 2) std::this_thread::yield();
  });
  while (stage.load() != 1) std::this_thread::yield();
  domain.Retire(new Counted(&freed));
  EXPECT_EQ(domain.Reclaim(), 0u);
  stage.store(2);
  reader.join();
  EXPECT_EQ(domain.Reclaim(), 1u);
  EXPECT_EQ(freed.load(), 1);
}

TEST(EpochDomainTest, DestructorFreesWhatIsPending) {
  std::atomic<int> freed{0};
  {
    EpochDomain domain;
    domain.Retire(new Counted(&freed));
    domain.Retire(new Counted(&freed));
  }
  EXPECT_EQ(freed.load(), 2);
}

// Readers follow a pointer that a writer keeps replacing and retiring; every object a reader
// reaches must be whole (run under ASan or TSan, a use after free is reported).
TEST(EpochDomainTest, ReadersNeverSeeFreedObjects) {
  struct Pair {
    explicit Pair(int v) : a(v), b(v) {}
    ~Pair() { a = b = -1; }
    int a;
    int b;
  };
  EpochDomain domain;
  std::atomic<Pair*> current{new Pair(0)};
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!done.load(std::memory_order_relaxed)) {
        EpochGuard guard(domain);
        const Pair* pair = current.load(std::memory_order_acquire);
        if (pair->a != pair->b || pair->a < 0) torn.fetch_add(1);
      }
    });
  }
  for (int i = 1; i <= 20000; ++i) {
    Pair* old = current.exchange(new Pair(i), std::memory_order_acq_rel);
    domain.Retire(old);
    if (i % 64 == 0) domain.Reclaim();
  }
  done.store(true);
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(torn.load(), 0);
  domain.Reclaim();
  EXPECT_EQ(domain.pending(), 0u);
  delete current.load();
}

}  // namespace
}  // namespace metricsgate::storage
