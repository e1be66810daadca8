// Fault settings: what a PUT may say, that it replaces everything, and what apply() does.
#include <gtest/gtest.h>

#include <stdexcept>

#include "libs/runtime/faults.h"

namespace oms::runtime {
namespace {

TEST(Faults, StartAtNoneAndReportEveryOperation) {
  Faults f({"authorize", "refund"});
  EXPECT_EQ(f.json(), R"({"authorize":{"delayMs":0,"failRate":0},"refund":{"delayMs":0,"failRate":0}})");
  EXPECT_NO_THROW(f.apply("authorize"));
}

TEST(Faults, APutReplacesEverySetting) {
  Faults f({"authorize", "refund"});
  ASSERT_TRUE(f.replace(R"({"refund":{"delayMs":5}})"));
  ASSERT_TRUE(f.replace(R"({"authorize":{"failRate":0.25}})"));
  EXPECT_EQ(f.json(), R"({"authorize":{"delayMs":0,"failRate":0.25},"refund":{"delayMs":0,"failRate":0}})");
}

TEST(Faults, WhatCannotBeMeantIsRefusedAndChangesNothing) {
  Faults f({"authorize"});
  ASSERT_TRUE(f.replace(R"({"authorize":{"delayMs":3}})"));
  for (const char* bad : {R"({"capture":{}})", R"({"authorize":{"delayMs":60001}})", R"({"authorize":{"delayMs":-1}})",
                          R"({"authorize":{"delayMs":1.5}})", R"({"authorize":{"failRate":1.01}})",
                          R"({"authorize":{"failRate":"x"}})", R"({"authorize":{"rate":1}})", R"({"authorize":1})",
                          "[]", "nonsense"}) {
    auto r = f.replace(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::kInvalid);
  }
  EXPECT_EQ(f.json(), R"({"authorize":{"delayMs":3,"failRate":0}})");
}

TEST(Faults, AFailureRateOfOneAlwaysFailsAndZeroNever) {
  Faults f({"reserve"});
  f.set("reserve", {0, 1.0});
  for (int i = 0; i < 100; ++i) EXPECT_THROW(f.apply("reserve"), std::runtime_error);
  f.set("reserve", {0, 0.0});
  for (int i = 0; i < 100; ++i) EXPECT_NO_THROW(f.apply("reserve"));
  f.set("reserve", {0, 0.5});
  int failed = 0;
  for (int i = 0; i < 2000; ++i) {
    try {
      f.apply("reserve");
    } catch (const std::runtime_error&) {
      ++failed;
    }
  }
  EXPECT_GT(failed, 800);  // ~1000 expected; far outside chance otherwise
  EXPECT_LT(failed, 1200);
}

}  // namespace
}  // namespace oms::runtime
