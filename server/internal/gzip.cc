#include "server/internal/gzip.h"

#include <zlib.h>

#include <new>

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

struct GzipWriter::State {
  z_stream stream{};
};

GzipWriter::GzipWriter() : state_(std::make_unique<State>()) {
  // 16: a gzip header, not zlib's. deflateInit2 fails only without memory.
  if (deflateInit2(&state_->stream, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::bad_alloc();
  }
}

GzipWriter::~GzipWriter() { deflateEnd(&state_->stream); }

void GzipWriter::Write(std::string_view in, bool finish, std::string* out) {
  z_stream& stream = state_->stream;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  stream.avail_in = static_cast<uInt>(in.size());
  const int flush = finish ? Z_FINISH : Z_NO_FLUSH;
  for (;;) {
    const size_t start = out->size();
    const size_t room = deflateBound(&stream, stream.avail_in) + 64;
    out->resize(start + room);
    stream.next_out = reinterpret_cast<Bytef*>(out->data() + start);
    stream.avail_out = static_cast<uInt>(room);
    const int result = deflate(&stream, flush);
    out->resize(start + room - stream.avail_out);
    if (result == Z_STREAM_END || (!finish && stream.avail_in == 0 && stream.avail_out > 0)) {
      return;
    }
  }
}

}  // namespace metricsgate::server::internal
