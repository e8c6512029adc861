#include "base/status_macros.h"

#include <string>

#include "gtest/gtest.h"

namespace metricsgate {
namespace {

absl::StatusOr<int> Half(int n) {
  if (n % 2 != 0) return absl::InvalidArgumentError("odd");
  return n / 2;
}

absl::Status CheckEven(int n) {
  MG_RETURN_IF_ERROR(Half(n).status());
  return absl::OkStatus();
}

absl::StatusOr<int> Quarter(int n) {
  MG_ASSIGN_OR_RETURN(int half, Half(n));
  MG_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(StatusMacrosTest, ReturnIfErrorPassesErrorsThrough) {
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3), absl::InvalidArgumentError("odd"));
}

TEST(StatusMacrosTest, AssignOrReturnAssignsOrReturns) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status(), absl::InvalidArgumentError("odd"));
  EXPECT_EQ(Quarter(5).status(), absl::InvalidArgumentError("odd"));
}

}  // namespace
}  // namespace metricsgate
