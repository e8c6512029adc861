// Files written so that a crash at any moment leaves either the old or the new content:
// the data goes to a temporary file in the same directory, which is fsynced, renamed over
// the target, and the directory fsynced. Safe from any thread for different paths.
#ifndef METRICSGATE_SERVER_INTERNAL_PERSISTENCE_H_
#define METRICSGATE_SERVER_INTERNAL_PERSISTENCE_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace metricsgate::server::internal {

absl::Status WriteFileAtomically(const std::string& path, std::string_view data);

// The whole file, or nullopt when it does not exist; kUnavailable naming it if it cannot be read.
absl::StatusOr<std::optional<std::string>> ReadFileIfExists(const std::string& path);

}  // namespace metricsgate::server::internal

#endif  // METRICSGATE_SERVER_INTERNAL_PERSISTENCE_H_
