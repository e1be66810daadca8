// The idempotency table on a real SQLite file: keys older than the retention are forgotten,
// younger ones are kept (API.md: at least 24 h).
#include <gtest/gtest.h>

#include <filesystem>

#include "libs/core/clock.h"
#include "libs/core/ids.h"
#include "services/order/adapters/store.h"

namespace oms::order {
namespace {

TEST(IdempotencyDb, PurgeForgetsOnlyExpiredKeys) {
  auto dir = std::filesystem::temp_directory_path() / ("oms-idem-" + new_uuid());
  std::filesystem::create_directories(dir);
  {
    storage::Database db({"sqlite:" + (dir / "order.db").string()});
    db.migrate("order", adapters::migrations());
    const std::int64_t now = now_ms(), hour = 3600 * 1000;
    db.write([&](storage::Tx& tx) {
      adapters::insert_key(tx.sql, "alice", "old", {"req", 201, "{}", "o1"}, now - 25 * hour);
      adapters::insert_key(tx.sql, "alice", "young", {"req", 201, "{}", "o2"}, now - 23 * hour);
    });
    long long purged = db.write([&](storage::Tx& tx) { return adapters::purge_keys(tx.sql, now - 24 * hour); });
    EXPECT_EQ(purged, 1);
    db.read([&](soci::session& sql) {
      EXPECT_FALSE(adapters::find_key(sql, "alice", "old").has_value());
      auto young = adapters::find_key(sql, "alice", "young");
      ASSERT_TRUE(young.has_value());
      EXPECT_EQ(young->order_id, "o2");
      EXPECT_EQ(young->status, 201);
    });
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace oms::order
