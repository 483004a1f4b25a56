// GoogleTest helpers for absl::Status / absl::StatusOr in tests (Debian 12's Abseil ships no
// status matchers). Test-only; include from *_test.cc files.
//
//   ASSERT_OK(expr);  EXPECT_OK(expr);          expr is a Status or a StatusOr
//   ASSERT_OK_AND_ASSIGN(auto c, MqttClient::Connect(port));
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace ringmq::testing::internal {

inline const absl::Status& ToStatus(const absl::Status& s) {
  return s;
}
template <typename T>
const absl::Status& ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace ringmq::testing::internal

// Each evaluates `expr` once.
#ifndef ASSERT_OK
#define ASSERT_OK(expr)                                                                  \
  do {                                                                                   \
    const ::absl::Status ringmq_status_ = ::ringmq::testing::internal::ToStatus((expr)); \
    ASSERT_TRUE(ringmq_status_.ok()) << #expr << ": " << ringmq_status_;                 \
  } while (0)
#endif
#ifndef EXPECT_OK
#define EXPECT_OK(expr)                                                                  \
  do {                                                                                   \
    const ::absl::Status ringmq_status_ = ::ringmq::testing::internal::ToStatus((expr)); \
    EXPECT_TRUE(ringmq_status_.ok()) << #expr << ": " << ringmq_status_;                 \
  } while (0)
#endif

#define RINGMQ_STATUS_CONCAT_INNER(a, b) a##b
#define RINGMQ_STATUS_CONCAT(a, b) RINGMQ_STATUS_CONCAT_INNER(a, b)

// NOLINTBEGIN(bugprone-macro-parentheses): `lhs` is a declaration, `tmp` a name.
#ifndef ASSERT_OK_AND_ASSIGN
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(RINGMQ_STATUS_CONCAT(status_or_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr)         \
  auto tmp = (expr);                                      \
  ASSERT_TRUE(tmp.ok()) << #expr << ": " << tmp.status(); \
  lhs = std::move(*tmp)
#endif
// NOLINTEND(bugprone-macro-parentheses)
