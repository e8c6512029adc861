#include "server/internal/gzip.h"

#include <zlib.h>

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

}  // namespace
}  // namespace metricsgate::server::internal
