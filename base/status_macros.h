// Early-return helpers for absl::Status and absl::StatusOr<T> (Debian's abseil 20220623 ships
// none). Header only; no state, so safe from any thread.
#ifndef METRICSGATE_BASE_STATUS_MACROS_H_
#define METRICSGATE_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define MG_INTERNAL_CONCAT_INNER(a, b) a##b
#define MG_INTERNAL_CONCAT(a, b) MG_INTERNAL_CONCAT_INNER(a, b)

// Evaluates `expr` (an absl::Status) once and returns it from the caller if it is not OK.
#define MG_RETURN_IF_ERROR(expr)                              \
  do {                                                        \
    if (::absl::Status mg_status = (expr); !mg_status.ok()) { \
      return mg_status;                                       \
    }                                                         \
  } while (false)

// `MG_ASSIGN_OR_RETURN(auto x, MakeX());` evaluates the StatusOr once, returns its status from
// the caller if it is not OK, and otherwise moves the value into `lhs`.
#define MG_ASSIGN_OR_RETURN(lhs, expr) \
  MG_INTERNAL_ASSIGN_OR_RETURN(MG_INTERNAL_CONCAT(mg_statusor_, __LINE__), lhs, expr)

#define MG_INTERNAL_ASSIGN_OR_RETURN(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) {                                   \
    return std::move(tmp).status();                  \
  }                                                  \
  lhs = *std::move(tmp)

#endif  // METRICSGATE_BASE_STATUS_MACROS_H_
