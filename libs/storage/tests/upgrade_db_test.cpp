// Data written before keeps working: every service's migrations applied to a populated database
// at the previous schema version (the one before roles, issue 8), on both backends. The rows
// written then — including the outbox and inbox — are still there and read through the stores;
// the new owner columns are empty for them (staff only, docs/DECISIONS.md "Roles and ownership"),
// and a customer's list, narrowed to its owner, leaves them out.
#include <gtest/gtest.h>
#include <soci/soci.h>

#include <filesystem>
#include <functional>

#include "libs/core/ids.h"
#include "libs/storage/database.h"
#include "libs/storage/tests/postgres_server.h"
#include "services/fulfillment/adapters/store.h"
#include "services/notification/adapters/store.h"
#include "services/order/adapters/store.h"
#include "services/payment/adapters/store.h"
#include "services/saga/adapters/store.h"

namespace oms::storage {
namespace {

namespace fs = std::filesystem;

struct Upgrade {
  std::string name;
  const std::vector<std::string>& migrations;
  std::size_t previous;              // how many of them the previous version had
  std::vector<std::string> rows;     // rows in the previous version's shape ({id}: an order id)
  std::function<void(soci::session&, const std::string& id)> check;  // after the upgrade
};

std::vector<Upgrade> upgrades() {
  return {
      {"order", order::adapters::migrations(), 6,
       {"INSERT INTO orders (order_id, user_id, customer_email, email_lower, items, total_minor, currency, status,"
        " payment_status, inventory_status, fulfillment_status, failure_reason, cancel_requested, cancel_seq,"
        " saga_version, created_ms, updated_ms, completed_ms, cancelled_ms) VALUES ('{id}', 'alice', 'A@x.io',"
        " 'a@x.io', '[{\"productId\":\"p\",\"quantity\":1,\"priceMinor\":100}]', 100, 'USD', 'COMPLETED',"
        " 'COMPLETED', 'RESERVED', 'INITIATED', NULL, 0, 0, 3, 1, 2, 2, NULL)"},
       [](soci::session& s, const std::string& id) {
         auto o = order::adapters::load(s, id);
         ASSERT_TRUE(o);
         EXPECT_EQ(o->user_id, "alice");
         EXPECT_EQ(o->status, "COMPLETED");
         order::adapters::ListQuery mine;
         mine.user_id = "alice";
         ASSERT_EQ(order::adapters::list(s, mine).size(), 1u);  // orders always had their user
         mine.user_id = "bob";
         EXPECT_TRUE(order::adapters::list(s, mine).empty());
       }},
      {"saga", saga::adapters::migrations(), 5,
       {"INSERT INTO sagas (order_id, customer_email, amount_minor, currency, items, state, awaiting,"
        " inventory_status, payment_status, fulfillment_status, cancel_requested, completed_once, reason, uncertain,"
        " deadline_ms, step_timeout_ms, version, created_ms, updated_ms, cancel_seq) VALUES ('{id}', 'a@x.io', 100,"
        " 'USD', '[{\"productId\":\"p\",\"quantity\":1,\"priceMinor\":100}]', 'COMPLETED', 'NONE', 'RESERVED',"
        " 'COMPLETED', 'INITIATED', 0, 1, NULL, 0, 0, 30000, 7, 1, 2, 0)",
        "INSERT INTO saga_history (order_id, seq, state, at_ms, detail) VALUES ('{id}', 16, 'STARTED', 1, NULL)"},
       [](soci::session& s, const std::string& id) {
         auto g = saga::adapters::load(s, id);
         ASSERT_TRUE(g);
         EXPECT_EQ(g->version, 7);
         EXPECT_FALSE(g->owner_id);
         EXPECT_EQ(g->compensation_attempts, 0);
         EXPECT_FALSE(g->attention);
         EXPECT_EQ(saga::adapters::history(s, id).size(), 1u);
         EXPECT_EQ(saga::adapters::list(s, std::nullopt, std::nullopt, std::nullopt, 10).size(), 1u);
         EXPECT_TRUE(saga::adapters::list(s, std::nullopt, std::string("alice"), std::nullopt, 10).empty());
       }},
      {"payment", payment::adapters::migrations(), 1,
       {"INSERT INTO payments (id, order_id, amount_minor, currency, status, transaction_id, failure_reason,"
        " created_ms, updated_ms) VALUES ('pay-1', '{id}', 100, 'USD', 'COMPLETED', 'TX-1', NULL, 1, 2)"},
       [](soci::session& s, const std::string& id) {
         auto p = payment::adapters::load(s, id);
         ASSERT_TRUE(p);
         EXPECT_EQ(p->status, "COMPLETED");
         EXPECT_EQ(p->amount.minor, 100);
         EXPECT_FALSE(p->owner_id);
       }},
      {"fulfillment", fulfillment::adapters::migrations(), 4,
       {"INSERT INTO tasks (id, order_id, status, tracking_number, created_ms, updated_ms) VALUES"
        " ('task-1', '{id}', 'INITIATED', NULL, 1, 2)"},
       [](soci::session& s, const std::string& id) {
         auto t = fulfillment::adapters::load(s, id);
         ASSERT_TRUE(t);
         EXPECT_EQ(t->status, "INITIATED");
         EXPECT_FALSE(t->owner_id);
         EXPECT_EQ(fulfillment::adapters::list(s, "", std::nullopt, std::nullopt, 10).size(), 1u);
         EXPECT_TRUE(fulfillment::adapters::list(s, "", std::string("alice"), std::nullopt, 10).empty());
       }},
      {"notification", notification::adapters::migrations(), 4,
       {"INSERT INTO recipients (order_id, email) VALUES ('{id}', 'a@x.io')",
        "INSERT INTO notifications (id, order_id, recipient, recipient_lower, subject, type, body, sent_ms) VALUES"
        " ('{id}', '{id}', 'A@x.io', 'a@x.io', 's', 'ORDER_CREATED', 'b', 1)"},
       [](soci::session& s, const std::string& id) {
         auto r = notification::adapters::recipients(s, {id});
         ASSERT_EQ(r.size(), 1u);
         EXPECT_EQ(r.at(id).email, "a@x.io");
         EXPECT_FALSE(r.at(id).owner_id);
         EXPECT_EQ(notification::adapters::list(s, id, "", std::nullopt, std::nullopt, 10).size(), 1u);
         EXPECT_TRUE(notification::adapters::list(s, id, "", std::string("alice"), std::nullopt, 10).empty());
       }},
  };
}

std::string with_id(std::string sql, const std::string& id) {
  for (std::size_t at; (at = sql.find("{id}")) != std::string::npos;) sql.replace(at, 4, id);
  return sql;
}

void upgrade_all(const std::function<std::string(const std::string&)>& url_of) {
  for (auto& u : upgrades()) {
    SCOPED_TRACE(u.name);
    ASSERT_LT(u.previous, u.migrations.size()) << "the previous version had fewer migrations";
    DbOptions o;
    o.url = url_of(u.name);
    Database db(o);
    const std::string id = new_uuid();
    std::vector<std::string> before(u.migrations.begin(), u.migrations.begin() + static_cast<long>(u.previous));
    db.migrate(u.name, before);
    db.write([&](Tx& tx) {
      for (const auto& row : u.rows) tx.sql << with_id(row, id);
      tx.sql << "INSERT INTO outbox (id, subject, payload, created_ms, request_id) VALUES ('m-1', 'x.y', '{}', 1, '')";
      tx.sql << "INSERT INTO inbox (consumer, message_id, handled_ms) VALUES ('c', 'm-0', 1)";
    });
    db.migrate(u.name, u.migrations);  // the upgrade
    db.migrate(u.name, u.migrations);  // and a second start: nothing to do
    db.read([&](soci::session& s) {
      u.check(s, id);
      long long outbox = 0, inbox = 0, version = 0;
      s << "SELECT COUNT(*) FROM outbox", soci::into(outbox);
      s << "SELECT COUNT(*) FROM inbox", soci::into(inbox);
      s << "SELECT MAX(version) FROM schema_migrations WHERE service = :s", soci::use(u.name, "s"), soci::into(version);
      EXPECT_EQ(outbox, 1);
      EXPECT_EQ(inbox, 1);
      EXPECT_EQ(version, static_cast<long long>(u.migrations.size()));
    });
  }
}

TEST(Upgrade, PopulatedDatabasesOfThePreviousVersionOnSqlite) {
  fs::path dir = fs::temp_directory_path() / ("oms-upgrade-" + new_uuid());
  fs::create_directories(dir);
  upgrade_all([&](const std::string& name) { return "sqlite:" + (dir / (name + ".db")).string(); });
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST(Upgrade, PopulatedDatabasesOfThePreviousVersionOnPostgres) {
  testing::PostgresServer pg;
  ASSERT_TRUE(pg.ok()) << pg.error();
  upgrade_all([&](const std::string& name) {
    pg.create_database("upgrade_" + name);
    return pg.url("upgrade_" + name);
  });
}

}  // namespace
}  // namespace oms::storage
