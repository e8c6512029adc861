#include "server/internal/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <string>

#include "gtest/gtest.h"

namespace metricsgate::server::internal {
namespace {

std::string Gzip(std::string_view data) {
  z_stream stream = {};
  deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, data.size()) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

TEST(GunzipTest, DecodesOneOrSeveralMembers) {
  EXPECT_EQ(*Gunzip(Gzip("a:1|c\nb:2|g\n"), 1024), "a:1|c\nb:2|g\n");
  EXPECT_EQ(*Gunzip(Gzip(""), 1024), "");
  EXPECT_EQ(*Gunzip(Gzip("x:1|c\n") + Gzip("y:2|c\n"), 1024), "x:1|c\ny:2|c\n");
  const std::string big(300000, 'z');
  EXPECT_EQ(*Gunzip(Gzip(big), big.size()), big);
}

TEST(GunzipTest, RejectsCorruptTruncatedAndOversizedBodies) {
  const std::string good = Gzip("a:1|c\nb:2|g\n");
  EXPECT_EQ(Gunzip("not gzip at all", 1024).status(),
            absl::InvalidArgumentError("invalid gzip body: incorrect header check"));
  EXPECT_EQ(Gunzip(good.substr(0, good.size() - 6), 1024).status(),
            absl::InvalidArgumentError("invalid gzip body: truncated"));
  EXPECT_EQ(Gunzip("", 1024).status(), absl::InvalidArgumentError("invalid gzip body: truncated"));
  EXPECT_EQ(Gunzip(Gzip(std::string(100000, 'z')), 1000).status(),
            absl::ResourceExhaustedError("gzip body expands beyond 1000 bytes"));
}

// A body fed in pieces of every size, some empty, comes back whole through zlib's inflate
// (what Prometheus' Go reader and curl use); so does an empty body.
TEST(GzipWriterTest, WritesOneStreamThatZlibReadsBack) {
  std::string body;
  for (int i = 0; i < 200000; ++i) {
    body += "app_requests_" + std::to_string(i % 1000) + "_total{instance=\"i-" +
            std::to_string(i) + "\"} " + std::to_string(i * 7) + "\n";
  }
  for (const size_t piece : {size_t{1} << 18, size_t{1000}, size_t{7}}) {
    GzipWriter writer;
    std::string compressed;
    const size_t fed = piece < 100 ? 100000 : body.size();  // 7-byte pieces: the first 100 KB
    for (size_t at = 0; at < fed; at += piece) {
      writer.Write(std::string_view(body).substr(at, std::min(piece, fed - at)), false,
                   &compressed);
      writer.Write("", false, &compressed);
    }
    writer.Write("", true, &compressed);
    EXPECT_LT(compressed.size(), fed / 4) << piece;  // it compresses
    const absl::StatusOr<std::string> back = Gunzip(compressed, body.size());
    ASSERT_TRUE(back.ok()) << piece << ": " << back.status();
    EXPECT_EQ(*back, body.substr(0, fed)) << piece;
    // One member: gzip magic once, then a header zlib accepts.
    EXPECT_EQ(compressed.substr(0, 3), std::string("\x1f\x8b\x08", 3));
  }
  GzipWriter empty;
  std::string compressed;
  empty.Write("", true, &compressed);
  const absl::StatusOr<std::string> back = Gunzip(compressed, 10);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, "");
}

}  // namespace
}  // namespace metricsgate::server::internal
