// Spool: a bounded first-in, first-out store of byte pieces on disk, for the Graphite
// forwarder's overflow (--graphite.spool-dir). Pieces that no longer fit the memory queue of an
// unreachable destination are appended here instead of being dropped, read back oldest first
// when the destination comes back, and kept across restarts: Open() picks up what an earlier
// run left.
//
// On disk: segment files `<stem>.<sequence>.spool` of at most kSegmentBytes (a bigger piece
// gets a segment of its own), each a run of records [u32 length][u32 points][u32 CRC-32 of the
// bytes][bytes], little-endian. Segments are written by appending and removed whole once read,
// or, when the spool holds more than `max_bytes`, dropped oldest first (their points are
// returned as dropped). A record that is cut short or fails its CRC (a crash mid-write, a
// damaged disk) ends its segment: the rest of it is counted as lost, never sent.
//
// Thread safety: none; the caller serializes every call.
#ifndef METRICSGATE_SERVER_INTERNAL_SPOOL_H_
#define METRICSGATE_SERVER_INTERNAL_SPOOL_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace metricsgate::server::internal {

class Spool {
 public:
  static constexpr size_t kSegmentBytes = 64 << 20;

  // Opens the spool `stem` in `dir` (created if missing) and takes over its segments.
  // `segment_bytes`: tests make it small.
  static absl::StatusOr<std::unique_ptr<Spool>> Open(std::string dir, std::string stem,
                                                     uint64_t max_bytes,
                                                     uint64_t segment_bytes = kSegmentBytes);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Appends a piece, then drops the oldest segments while the spool is over max_bytes (never
  // the one just written to). Returns the points dropped, or the write's error (the piece is
  // then not spooled).
  absl::StatusOr<uint64_t> Append(std::string_view bytes, uint64_t points);

  struct Piece {
    std::string bytes;
    uint64_t points = 0;
  };
  // Removes and returns the oldest piece; nullopt when the spool is empty. Points of records
  // found damaged on the way are added to `*lost`.
  std::optional<Piece> Pop(uint64_t* lost);

  bool empty() const { return points_ == 0 && segments_.empty(); }
  uint64_t points() const { return points_; }  // in intact records not yet read
  uint64_t bytes() const { return bytes_; }    // on disk

 private:
  struct Segment {
    uint64_t sequence = 0;
    uint64_t bytes = 0;   // the file's size
    uint64_t points = 0;  // in its intact records not yet read
    uint64_t read = 0;    // offset of the next record
  };
  Spool(std::string dir, std::string stem, uint64_t max_bytes, uint64_t segment_bytes);
  std::string PathOf(uint64_t sequence) const;
  // Reads the file's records to count their points; a damaged tail is cut off (truncated).
  absl::Status Scan(Segment* segment);
  void Remove(const Segment& segment);

  const std::string dir_;
  const std::string stem_;
  const uint64_t max_bytes_;
  const uint64_t segment_bytes_;
  std::deque<Segment> segments_;  // oldest first; the last one is appended to
  int write_fd_ = -1;             // the last segment's, open once written to in this run
  uint64_t points_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace metricsgate::server::internal

#endif  // METRICSGATE_SERVER_INTERNAL_SPOOL_H_
