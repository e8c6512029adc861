// Server wires the modules together: one SeriesTable, one StatsdIngester, the StatsD UDP
// listener and the HTTP server, all on one io_context run by a small thread pool.
//
// Create() binds every socket, so a port in use fails start-up with a message that names it.
// Run() serves until SIGINT or SIGTERM, then stops accepting, lets requests in flight finish
// (for at most kShutdownGrace) and returns the exit code. Use from one thread.
#ifndef METRICSGATE_SERVER_SERVER_H_
#define METRICSGATE_SERVER_SERVER_H_

#include <chrono>
#include <memory>

#include "absl/status/statusor.h"
#include "server/flags.h"

namespace metricsgate::server {

inline constexpr std::chrono::seconds kShutdownGrace{5};

class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Create(const Config& config);
  ~Server();

  // Blocks until a shutdown signal has been handled. Returns 0 after a clean shutdown.
  int Run();

  struct Parts;

 private:
  explicit Server(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace metricsgate::server

#endif  // METRICSGATE_SERVER_SERVER_H_
