#include "base/result.h"

#include <gtest/gtest.h>

namespace onewindow {
namespace {

Result<int> half(int value) {
  if (value % 2 != 0) return Error::invalid("test.odd", "value", "value must be even");
  return value / 2;
}

Status half_twice(int value, int& out) {
  auto first = half(value);
  ONEWINDOW_TRY(first);
  auto second = half(*first);
  ONEWINDOW_TRY(second);
  out = *second;
  return ok_status();
}

TEST(Result, CarriesAValueOrAnError) {
  auto good = half(8);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 4);
  auto bad = half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "test.odd");
  EXPECT_EQ(bad.error().kind, ErrorKind::invalid_argument);
  EXPECT_EQ(bad.error().details["field"], "value");
}

TEST(Result, TryPropagatesTheFirstError) {
  int out = 0;
  EXPECT_TRUE(half_twice(8, out).ok());
  EXPECT_EQ(out, 2);
  Status failed = half_twice(6, out);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, "test.odd");
  EXPECT_EQ(out, 2);
}

TEST(Result, MovesOutValuesAndErrors) {
  Result<std::string> text = std::string("青岛");
  std::string taken = std::move(text).value();
  EXPECT_EQ(taken, "青岛");
  Result<std::string> failed = Error(ErrorKind::not_found, "test.missing", "gone");
  Error error = failed.take_error();
  EXPECT_EQ(error.code, "test.missing");
}

}  // namespace
}  // namespace onewindow
