#include "server/internal/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <vector>

#include "base/log.h"
#include "base/str_cat.h"

namespace metricsgate::server::internal {

namespace {

constexpr size_t kHeader = 12;

void PutU32(uint32_t v, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t GetU32(const char* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return v;
}
uint32_t Crc(std::string_view bytes) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::InternalError(StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Reads exactly `size` bytes at `offset`; false on a short read or an error.
bool ReadAt(int fd, uint64_t offset, char* out, size_t size) {
  while (size > 0) {
    const ssize_t n = pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out += n;
    offset += static_cast<uint64_t>(n);
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// The record at `offset` of `fd` (whose size is `file_bytes`): its bytes and points, or
// nullopt when it is cut short or fails its CRC.
std::optional<Spool::Piece> ReadRecord(int fd, uint64_t offset, uint64_t file_bytes) {
  char header[kHeader];
  if (file_bytes - offset < kHeader || !ReadAt(fd, offset, header, kHeader)) return std::nullopt;
  const uint32_t length = GetU32(header);
  if (length > file_bytes - offset - kHeader) return std::nullopt;
  Spool::Piece piece;
  piece.points = GetU32(header + 4);
  piece.bytes.resize(length);
  if (!ReadAt(fd, offset + kHeader, piece.bytes.data(), length)) return std::nullopt;
  if (Crc(piece.bytes) != GetU32(header + 8)) return std::nullopt;
  return piece;
}

}  // namespace

Spool::Spool(std::string dir, std::string stem, uint64_t max_bytes, uint64_t segment_bytes)
    : dir_(std::move(dir)),
      stem_(std::move(stem)),
      max_bytes_(max_bytes),
      segment_bytes_(segment_bytes) {}

Spool::~Spool() {
  if (write_fd_ >= 0) close(write_fd_);
}

std::string Spool::PathOf(uint64_t sequence) const {
  return StrCat(dir_, "/", stem_, ".", sequence, ".spool");
}

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(std::string dir, std::string stem,
                                                   uint64_t max_bytes, uint64_t segment_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return absl::InternalError(StrCat("cannot create spool directory ", dir, ": ", ec.message()));
  std::unique_ptr<Spool> spool(new Spool(dir, stem, max_bytes, segment_bytes));
  // Segments an earlier run left: `<stem>.<sequence>.spool`.
  std::vector<uint64_t> sequences;
  const std::string prefix = stem + ".";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix) || !name.ends_with(".spool")) continue;
    const std::string_view digits =
        std::string_view(name).substr(prefix.size(), name.size() - prefix.size() - 6);
    uint64_t sequence = 0;
    const auto [end, parse_ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), sequence);
    if (parse_ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
      continue;
    }
    sequences.push_back(sequence);
  }
  if (ec)
    return absl::InternalError(StrCat("cannot read spool directory ", dir, ": ", ec.message()));
  std::sort(sequences.begin(), sequences.end());
  for (uint64_t sequence : sequences) {
    Segment segment{sequence};
    if (absl::Status status = spool->Scan(&segment); !status.ok()) return status;
    spool->segments_.push_back(segment);
    spool->points_ += segment.points;
    spool->bytes_ += segment.bytes;
  }
  return spool;
}

absl::Status Spool::Scan(Segment* segment) {
  const std::string path = PathOf(segment->sequence);
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open spool segment", path);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Errno("cannot stat spool segment", path);
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t offset = 0;
  while (offset < size) {
    std::optional<Piece> piece = ReadRecord(fd, offset, size);
    if (!piece) break;
    segment->points += piece->points;
    offset += kHeader + piece->bytes.size();
  }
  if (offset < size) {
    log::Warn("spool segment damaged; its tail is cut off",
              {{"path", path}, {"bytes_lost", std::to_string(size - offset)}});
    if (ftruncate(fd, static_cast<off_t>(offset)) != 0) {
      close(fd);
      return Errno("cannot truncate spool segment", path);
    }
  }
  close(fd);
  segment->bytes = offset;
  return absl::OkStatus();
}

void Spool::Remove(const Segment& segment) {
  if (!segments_.empty() && &segment == &segments_.back() && write_fd_ >= 0) {
    close(write_fd_);
    write_fd_ = -1;
  }
  unlink(PathOf(segment.sequence).c_str());
  points_ -= segment.points;
  bytes_ -= segment.bytes;
}

absl::StatusOr<uint64_t> Spool::Append(std::string_view bytes, uint64_t points) {
  const uint64_t record = kHeader + bytes.size();
  if (segments_.empty() ||
      (segments_.back().bytes > 0 && segments_.back().bytes + record > segment_bytes_)) {
    if (write_fd_ >= 0) close(write_fd_);
    write_fd_ = -1;
    segments_.push_back(Segment{segments_.empty() ? 1 : segments_.back().sequence + 1});
  }
  Segment& last = segments_.back();
  const std::string path = PathOf(last.sequence);
  if (write_fd_ < 0) {
    write_fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (write_fd_ < 0) {
      const absl::Status status = Errno("cannot open spool segment", path);
      if (last.bytes == 0) segments_.pop_back();
      return status;
    }
  }
  char header[kHeader];
  PutU32(static_cast<uint32_t>(bytes.size()), header);
  PutU32(static_cast<uint32_t>(points), header + 4);
  PutU32(Crc(bytes), header + 8);
  if (!WriteAll(write_fd_, header, kHeader) || !WriteAll(write_fd_, bytes.data(), bytes.size())) {
    const absl::Status status = Errno("cannot write spool segment", path);
    // Cut off what part of the record was written, so the segment stays readable.
    if (ftruncate(write_fd_, static_cast<off_t>(last.bytes)) != 0) {
      close(write_fd_);
      write_fd_ = -1;
    }
    return status;
  }
  last.bytes += record;
  last.points += points;
  points_ += points;
  bytes_ += record;
  uint64_t dropped = 0;
  while (bytes_ > max_bytes_ && segments_.size() > 1) {
    dropped += segments_.front().points;
    Remove(segments_.front());
    segments_.pop_front();
  }
  return dropped;
}

std::optional<Spool::Piece> Spool::Pop(uint64_t* lost) {
  while (!segments_.empty()) {
    Segment& front = segments_.front();
    if (front.read >= front.bytes) {
      Remove(front);
      segments_.pop_front();
      continue;
    }
    const std::string path = PathOf(front.sequence);
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    std::optional<Piece> piece;
    if (fd >= 0) {
      piece = ReadRecord(fd, front.read, front.bytes);
      close(fd);
    }
    if (!piece) {
      log::Warn("spool segment unreadable; its unsent points are lost", {{"path", path}});
      *lost += front.points;
      Remove(front);
      segments_.pop_front();
      continue;
    }
    front.read += kHeader + piece->bytes.size();
    front.points -= piece->points;
    points_ -= piece->points;
    if (front.read >= front.bytes) {
      Remove(front);
      segments_.pop_front();
    }
    return piece;
  }
  return std::nullopt;
}

}  // namespace metricsgate::server::internal
