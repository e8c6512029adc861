#include "server/internal/task.h"

#include "base/log.h"

namespace metricsgate::server::internal {

void LogTaskException(std::string_view task, std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::Error("task failed", {{"task", std::string(task)}, {"err", ex.what()}});
  } catch (...) {
    log::Error("task failed", {{"task", std::string(task)}, {"err", "unknown exception"}});
  }
}

}  // namespace metricsgate::server::internal
