#include "libs/bus/redelivery.h"

#include <gtest/gtest.h>

namespace oms::bus {
namespace {

TEST(Redelivery, DeadLettersOnTheFifthFailedDeliveryNotBefore) {
  for (int attempts = 1; attempts < kMaxAttempts; ++attempts) EXPECT_FALSE(Redelivery::dead_letter(attempts)) << attempts;
  EXPECT_TRUE(Redelivery::dead_letter(5));
  EXPECT_TRUE(Redelivery::dead_letter(6));
}

TEST(Redelivery, BackoffDoublesAndIsCapped) {
  EXPECT_EQ(Redelivery::backoff_ms(1), 100);
  EXPECT_EQ(Redelivery::backoff_ms(2), 200);
  EXPECT_EQ(Redelivery::backoff_ms(4), 800);
  EXPECT_EQ(Redelivery::backoff_ms(6), 3200);
  EXPECT_EQ(Redelivery::backoff_ms(60), 3200);
}

TEST(Redelivery, AFailedTransactionIsRetriedSoonAndNeverSlowerThanTwoSeconds) {
  EXPECT_EQ(Redelivery::batch_retry_ms(1), 100);
  EXPECT_EQ(Redelivery::batch_retry_ms(5), 500);
  EXPECT_EQ(Redelivery::batch_retry_ms(1000), 2000);
}

}  // namespace
}  // namespace oms::bus
