#include "server/internal/gzip.h"

#include <isa-l/igzip_lib.h>
#include <zlib.h>

#include <cstdint>
#include <stdexcept>

#include "base/str_cat.h"

namespace metricsgate::server::internal {

absl::StatusOr<std::string> Gunzip(std::string_view compressed, size_t max_size) {
  z_stream stream = {};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {  // 16: gzip header, not zlib
    return absl::InternalError("inflateInit2 failed");
  }
  std::string out;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  char chunk[64 * 1024];
  absl::Status status;
  for (;;) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof(chunk);
    const int result = inflate(&stream, Z_NO_FLUSH);
    const size_t produced = sizeof(chunk) - stream.avail_out;
    if (out.size() + produced > max_size) {
      status =
          absl::ResourceExhaustedError(StrCat("gzip body expands beyond ", max_size, " bytes"));
      break;
    }
    out.append(chunk, produced);
    if (result == Z_STREAM_END) {
      if (stream.avail_in == 0) break;
      inflateReset(&stream);  // another gzip member follows
      continue;
    }
    if (result == Z_OK) continue;
    // Z_BUF_ERROR: no progress is possible, the input ended inside the stream.
    status = absl::InvalidArgumentError(StrCat(
        "invalid gzip body: ",
        result == Z_BUF_ERROR ? "truncated" : (stream.msg != nullptr ? stream.msg : "corrupt")));
    break;
  }
  inflateEnd(&stream);
  if (!status.ok()) return status;
  return out;
}

// ISA-L's igzip at its level 1: the same gzip format as zlib's level 1 and about the same
// size on a scrape's text, at twice its speed (BENCHMARKS.md, 2026-12-06, later).
struct GzipWriter::State {
  isal_zstream stream;  // large (it holds the window): on the heap with this State
  std::unique_ptr<uint8_t[]> level_buf{new uint8_t[ISAL_DEF_LVL1_DEFAULT]};
};

GzipWriter::GzipWriter() : state_(std::make_unique<State>()) {
  isal_zstream& stream = state_->stream;
  isal_deflate_init(&stream);
  stream.level = 1;
  stream.level_buf = state_->level_buf.get();
  stream.level_buf_size = ISAL_DEF_LVL1_DEFAULT;
  stream.gzip_flag = IGZIP_GZIP;
  stream.flush = NO_FLUSH;
}

GzipWriter::~GzipWriter() = default;

void GzipWriter::Write(std::string_view in, bool finish, std::string* out) {
  isal_zstream& stream = state_->stream;
  stream.next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(in.data()));
  stream.avail_in = static_cast<uint32_t>(in.size());
  stream.end_of_stream = finish ? 1 : 0;
  for (;;) {
    const size_t start = out->size();
    // Text compresses, so this is room to spare; if it is not, the loop goes round again.
    const size_t room = stream.avail_in + stream.avail_in / 8 + 1024;
    out->resize(start + room);
    stream.next_out = reinterpret_cast<uint8_t*>(out->data() + start);
    stream.avail_out = static_cast<uint32_t>(room);
    // Fails only on parameters set wrong above, never on the data.
    if (isal_deflate(&stream) != COMP_OK) throw std::logic_error("isal_deflate failed");
    out->resize(start + room - stream.avail_out);
    if (finish ? stream.internal_state.state == ZSTATE_END
               : stream.avail_in == 0 && stream.avail_out > 0) {
      return;
    }
  }
}

}  // namespace metricsgate::server::internal
