// The one place that catches: the completion handler of every co_spawn'ed task logs an
// exception that escaped the task (errors on the data path are error codes, not exceptions).
// Safe from any thread.
#ifndef METRICSGATE_SERVER_INTERNAL_TASK_H_
#define METRICSGATE_SERVER_INTERNAL_TASK_H_

#include <exception>
#include <string>
#include <string_view>

namespace metricsgate::server::internal {

void LogTaskException(std::string_view task, std::exception_ptr e);

// A co_spawn completion handler: `co_spawn(ex, Task(), LogExceptions("http accept"))`.
inline auto LogExceptions(std::string_view task) {
  return [task = std::string(task)](std::exception_ptr e) {
    if (e) LogTaskException(task, e);
  };
}

}  // namespace metricsgate::server::internal

#endif  // METRICSGATE_SERVER_INTERNAL_TASK_H_
