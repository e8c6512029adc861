#include "server/internal/spool.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace metricsgate::server::internal {
namespace {

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mg-spool-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<std::string> Files() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  // Pops everything: the pieces' bytes and the sum of their points.
  static std::vector<std::string> Drain(Spool& spool, uint64_t* points, uint64_t* lost) {
    std::vector<std::string> out;
    while (std::optional<Spool::Piece> piece = spool.Pop(lost)) {
      out.push_back(piece->bytes);
      *points += piece->points;
    }
    return out;
  }

  std::string dir_;
};

TEST_F(SpoolTest, FirstInFirstOutAcrossSegmentsAndRuns) {
  {
    auto spool = Spool::Open(dir_, "d", 1 << 20, /*segment_bytes=*/40);
    ASSERT_TRUE(spool.ok()) << spool.status();
    EXPECT_TRUE((*spool)->empty());
    for (int i = 0; i < 5; ++i) {
      // 12 bytes of header + 20: one record per segment.
      auto dropped = (*spool)->Append(std::string(20, static_cast<char>('a' + i)), 10 + i);
      ASSERT_TRUE(dropped.ok()) << dropped.status();
      EXPECT_EQ(*dropped, 0u);
    }
    EXPECT_EQ((*spool)->points(), 10u + 11 + 12 + 13 + 14);
    EXPECT_EQ((*spool)->bytes(), 5u * 32);
    uint64_t lost = 0;
    std::optional<Spool::Piece> first = (*spool)->Pop(&lost);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->bytes, std::string(20, 'a'));
    EXPECT_EQ(first->points, 10u);
    EXPECT_EQ(Files(),
              (std::vector<std::string>{"d.2.spool", "d.3.spool", "d.4.spool", "d.5.spool"}));
  }
  // A new run takes over the rest, in order, and appends after it.
  auto spool = Spool::Open(dir_, "d", 1 << 20, 40);
  ASSERT_TRUE(spool.ok()) << spool.status();
  EXPECT_EQ((*spool)->points(), 11u + 12 + 13 + 14);
  ASSERT_TRUE((*spool)->Append("zz", 1).ok());
  uint64_t points = 0, lost = 0;
  EXPECT_EQ(Drain(**spool, &points, &lost),
            (std::vector<std::string>{std::string(20, 'b'), std::string(20, 'c'),
                                      std::string(20, 'd'), std::string(20, 'e'), "zz"}));
  EXPECT_EQ(points, 11u + 12 + 13 + 14 + 1);
  EXPECT_EQ(lost, 0u);
  EXPECT_TRUE((*spool)->empty());
  EXPECT_EQ((*spool)->bytes(), 0u);
  EXPECT_EQ(Files(), std::vector<std::string>{});
}

TEST_F(SpoolTest, OverItsBytesTheOldestSegmentsAreDroppedAndCounted) {
  auto spool = Spool::Open(dir_, "d", /*max_bytes=*/100, /*segment_bytes=*/64);
  ASSERT_TRUE(spool.ok()) << spool.status();
  // Records of 32 bytes: two per segment.
  std::vector<uint64_t> dropped;
  for (int i = 0; i < 6; ++i) {
    auto d = (*spool)->Append(std::string(20, static_cast<char>('a' + i)), 1 + i);
    ASSERT_TRUE(d.ok()) << d.status();
    dropped.push_back(*d);
  }
  // At the 4th record the spool holds 128 > 100 bytes: segment 1 (points 1 + 2) goes; at the
  // 6th, segment 2 (points 3 + 4).
  EXPECT_EQ(dropped, (std::vector<uint64_t>{0, 0, 0, 3, 0, 7}));
  EXPECT_EQ((*spool)->points(), 5u + 6);
  uint64_t points = 0, lost = 0;
  EXPECT_EQ(Drain(**spool, &points, &lost),
            (std::vector<std::string>{std::string(20, 'e'), std::string(20, 'f')}));
  EXPECT_EQ(lost, 0u);
}

TEST_F(SpoolTest, ADamagedTailIsCutOffAndAnUnreadableRecordIsCountedLost) {
  {
    auto spool = Spool::Open(dir_, "d", 1 << 20, 1 << 20);
    ASSERT_TRUE(spool.ok()) << spool.status();
    ASSERT_TRUE((*spool)->Append("good one", 4).ok());
    ASSERT_TRUE((*spool)->Append("good two", 5).ok());
  }
  const std::string path = dir_ + "/d.1.spool";
  {
    // A crash in the middle of a third record: a header promising more than there is.
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out.write("\x40\0\0\0\x07\0\0\0\0\0\0\0abc", 15);
  }
  {
    auto spool = Spool::Open(dir_, "d", 1 << 20, 1 << 20);
    ASSERT_TRUE(spool.ok()) << spool.status();
    EXPECT_EQ((*spool)->points(), 9u);
    EXPECT_EQ(std::filesystem::file_size(path), 2u * (12 + 8));  // the tail was cut off
  }
  auto spool = Spool::Open(dir_, "d", 1 << 20, 1 << 20);
  ASSERT_TRUE(spool.ok()) << spool.status();
  {
    // A byte of the second record flipped on disk after the scan: its CRC fails when read.
    std::fstream io(path, std::ios::binary | std::ios::in | std::ios::out);
    io.seekp(20 + 12 + 2);
    io.put('X');
  }
  uint64_t points = 0, lost = 0;
  EXPECT_EQ(Drain(**spool, &points, &lost), std::vector<std::string>{"good one"});
  EXPECT_EQ(points, 4u);
  EXPECT_EQ(lost, 5u);
  EXPECT_TRUE((*spool)->empty());
  EXPECT_EQ(Files(), std::vector<std::string>{});
}

TEST_F(SpoolTest, AnUnusableDirectoryIsAnError) {
  const std::string file = dir_ + "/not-a-dir";
  std::ofstream(file) << "x";
  auto spool = Spool::Open(file + "/sub", "d", 1 << 20);
  ASSERT_FALSE(spool.ok());
  EXPECT_NE(spool.status().message().find("cannot create spool directory"), std::string::npos)
      << spool.status();
}

TEST_F(SpoolTest, OtherFilesInTheDirectoryAreLeftAlone) {
  std::ofstream(dir_ + "/e.1.spool") << "another destination's";
  std::ofstream(dir_ + "/d.x.spool") << "not ours";
  auto spool = Spool::Open(dir_, "d", 1 << 20);
  ASSERT_TRUE(spool.ok()) << spool.status();
  EXPECT_TRUE((*spool)->empty());
  ASSERT_TRUE((*spool)->Append("p", 1).ok());
  EXPECT_EQ(Files(), (std::vector<std::string>{"d.1.spool", "d.x.spool", "e.1.spool"}));
}

}  // namespace
}  // namespace metricsgate::server::internal
