// Outbox → relay → in-process bus → inbox, on real SQLite files: delivery of every message,
// de-duplication of re-deliveries, dead letters for a poison message, survival of a restart.
// Also the storage layer's transaction guarantees the bus relies on.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "libs/bus/consumer.h"
#include "libs/bus/inproc_bus.h"
#include "libs/bus/relay.h"
#include "libs/core/clock.h"
#include "libs/core/ids.h"
#include "libs/storage/database.h"

namespace oms::bus {
namespace {

namespace fs = std::filesystem;
using storage::Database;
using storage::DbOptions;
using storage::Tx;

constexpr auto kDeadline = std::chrono::seconds(20);
constexpr const char* kSubject = "test.event";

// Polls `done` until it holds or the deadline passes; returns its last value.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit = kDeadline) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

long long count(Database& db, const std::string& sql) {
  return db.read([&](soci::session& s) {
    long long n = -1;
    s << sql, soci::into(n);
    return n;
  });
}

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("oms_bus_test_" + new_uuid())) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string db(const std::string& name) const { return "sqlite:" + (path_ / name).string(); }

 private:
  fs::path path_;
};

class BusDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = std::make_unique<TempDir>();
    a_ = std::make_unique<Database>(DbOptions{tmp_->db("a.db")});
    a_->migrate("producer", {});
    b_ = std::make_unique<Database>(DbOptions{tmp_->db("b.db")});
    b_->migrate("test", {"CREATE TABLE seen (id TEXT PRIMARY KEY)"});
    a_->set_commit_listener([this] {
      if (Relay* r = relay_ptr_.load()) r->notify();
    });
    start_bus();
  }

  void TearDown() override {
    stop_bus();
    a_.reset();
    b_.reset();
    tmp_.reset();
  }

  void start_bus() {
    bus_ = std::make_unique<InProcBus>();
    bus_->subscribe(Subscription{"test", {kSubject}, b_.get(), each([this](const Message& m, Tx& tx) {
                                   {
                                     std::lock_guard lock(mu_);
                                     if (poison_.count(m.id)) throw std::runtime_error("poison message " + m.id);
                                   }
                                   tx.sql << "INSERT INTO seen (id) VALUES (:id)", soci::use(m.id, "id");
                                 })});
    bus_->start();
    relay_ = std::make_unique<Relay>(*a_, *bus_, "producer");
    relay_ptr_ = relay_.get();
    relay_->start();
  }

  void stop_bus() {
    relay_ptr_ = nullptr;
    if (relay_) relay_->stop();
    if (bus_) bus_->stop();
    relay_.reset();
    bus_.reset();
  }

  void poison(const std::string& id) {
    std::lock_guard lock(mu_);
    poison_.insert(id);
  }

  long long seen() { return count(*b_, "SELECT COUNT(*) FROM seen"); }
  long long outbox() { return count(*a_, "SELECT COUNT(*) FROM outbox"); }

  // Publishes n messages from db A, `per_tx` per transaction; returns their ids in order.
  std::vector<std::string> publish_n(int n, int per_tx) {
    std::vector<std::string> ids;
    for (int done = 0; done < n;) {
      int k = std::min(per_tx, n - done);
      auto batch = a_->write([&](Tx& tx) {
        std::vector<std::string> out;
        for (int i = 0; i < k; ++i)
          out.push_back(tx.publish(kSubject, R"({"n":)" + std::to_string(done + i) + "}"));
        return out;
      });
      ids.insert(ids.end(), batch.begin(), batch.end());
      done += k;
    }
    return ids;
  }

  std::unique_ptr<TempDir> tmp_;
  std::unique_ptr<Database> a_, b_;
  std::unique_ptr<InProcBus> bus_;
  std::unique_ptr<Relay> relay_;
  std::atomic<Relay*> relay_ptr_{nullptr};
  std::mutex mu_;
  std::set<std::string> poison_;
};

TEST_F(BusDbTest, DeliversEveryMessageOnceAndEmptiesTheOutbox) {
  constexpr int kN = 200;
  auto ids = publish_n(kN, 23);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kN));
  ASSERT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << "ids are unique";

  ASSERT_TRUE(wait_until([&] { return seen() == kN && outbox() == 0; }))
      << "seen=" << seen() << " outbox=" << outbox();
  EXPECT_GE(relay_->published(), static_cast<std::uint64_t>(kN));
  EXPECT_EQ(count(*b_, "SELECT COUNT(*) FROM inbox WHERE consumer = 'test'"), kN);

  // Exactly the published ids were handled.
  std::set<std::string> handled = b_->read([](soci::session& s) {
    std::set<std::string> out;
    soci::rowset<std::string> rows = (s.prepare << "SELECT id FROM seen");
    for (const auto& id : rows) out.insert(id);
    return out;
  });
  EXPECT_EQ(handled, std::set<std::string>(ids.begin(), ids.end()));

  // Re-deliver the same messages (same ids) directly: the inbox drops every one.
  std::vector<Message> again;
  for (const auto& id : ids) again.push_back(Message{id, kSubject, R"({"dup":true})", 0});
  auto acked = std::make_shared<std::promise<bool>>();
  auto fut = acked->get_future();
  bus_->publish(std::move(again), [acked](bool ok) { acked->set_value(ok); });
  ASSERT_EQ(fut.wait_for(kDeadline), std::future_status::ready);
  EXPECT_TRUE(fut.get());
  EXPECT_EQ(seen(), kN);
  EXPECT_EQ(count(*b_, "SELECT COUNT(*) FROM inbox"), kN);
  EXPECT_EQ(count(*b_, "SELECT COUNT(*) FROM dead_letters"), 0);
}

TEST_F(BusDbTest, PoisonMessageGoesToDeadLettersAndDoesNotBlockOthers) {
  std::string poisoned;
  auto ids = a_->write([&](Tx& tx) {
    std::vector<std::string> out;
    for (int i = 0; i < 10; ++i) {
      out.push_back(tx.publish(kSubject, R"({"n":)" + std::to_string(i) + "}"));
      if (i == 3) {
        poisoned = out.back();
        poison(poisoned);  // before commit: the relay cannot see the row yet
      }
    }
    return out;
  });
  ASSERT_EQ(ids.size(), 10u);

  ASSERT_TRUE(wait_until([&] {
    return count(*b_, "SELECT COUNT(*) FROM dead_letters") == 1 && seen() == 9 && outbox() == 0;
  })) << "dead_letters=" << count(*b_, "SELECT COUNT(*) FROM dead_letters") << " seen=" << seen()
      << " outbox=" << outbox();

  std::string message_id, error, subject, consumer, payload;
  int attempts = 0;
  b_->read([&](soci::session& s) {
    s << "SELECT message_id, error, attempts, subject, consumer, payload FROM dead_letters",
        soci::into(message_id), soci::into(error), soci::into(attempts), soci::into(subject),
        soci::into(consumer), soci::into(payload);
  });
  EXPECT_EQ(message_id, poisoned);
  EXPECT_EQ(attempts, kMaxAttempts);
  EXPECT_NE(error.find("poison message " + poisoned), std::string::npos) << error;
  EXPECT_EQ(subject, kSubject);
  EXPECT_EQ(consumer, "test");
  EXPECT_EQ(payload, R"({"n":3})");
  // The poison message left no effect and no inbox row; the others did.
  EXPECT_EQ(count(*b_, "SELECT COUNT(*) FROM seen WHERE id = '" + poisoned + "'"), 0);
  EXPECT_EQ(count(*b_, "SELECT COUNT(*) FROM inbox WHERE message_id = '" + poisoned + "'"), 0);
  EXPECT_EQ(count(*b_, "SELECT COUNT(*) FROM inbox"), 9);
}

TEST_F(BusDbTest, MessagePublishedWhileStoppedIsDeliveredAfterRestart) {
  // Warm-up: the pipeline works before the "crash".
  publish_n(5, 5);
  ASSERT_TRUE(wait_until([&] { return seen() == 5 && outbox() == 0; }));

  stop_bus();
  auto ids = publish_n(3, 2);
  EXPECT_EQ(outbox(), 3) << "nothing relays while stopped, and nothing is lost";
  EXPECT_EQ(seen(), 5);

  start_bus();  // a new bus and relay, as after a process restart
  ASSERT_TRUE(wait_until([&] { return seen() == 8 && outbox() == 0; }))
      << "seen=" << seen() << " outbox=" << outbox();
  for (const auto& id : ids)
    EXPECT_EQ(count(*b_, "SELECT COUNT(*) FROM seen WHERE id = '" + id + "'"), 1) << id;
}

TEST_F(BusDbTest, BusStoppedUnderARunningRelayKeepsTheOutbox) {
  bus_->stop();  // the relay keeps running and gets "try again later"
  auto ids = publish_n(4, 4);
  // Give the relay the chance to try (and fail) at least once: its poll period is 200 ms.
  wait_until([] { return false; }, std::chrono::milliseconds(400));
  EXPECT_EQ(outbox(), 4);
  EXPECT_EQ(seen(), 0);
  stop_bus();
  EXPECT_EQ(outbox(), 4);

  start_bus();
  ASSERT_TRUE(wait_until([&] { return seen() == 4 && outbox() == 0; }))
      << "seen=" << seen() << " outbox=" << outbox();
}

// ---- storage: transactions ----

class StorageDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = std::make_unique<TempDir>();
    db_ = std::make_unique<Database>(DbOptions{tmp_->db("s.db")});
    db_->migrate("test", {"CREATE TABLE seen (id TEXT PRIMARY KEY)"});
    db_->set_commit_listener([this] { ++notified_; });
  }
  void TearDown() override {
    db_.reset();
    tmp_.reset();
  }

  std::unique_ptr<TempDir> tmp_;
  std::unique_ptr<Database> db_;
  std::atomic<int> notified_{0};
};

TEST_F(StorageDbTest, WriteRollsBackOnException) {
  EXPECT_THROW(db_->write([](Tx& tx) {
    tx.sql << "INSERT INTO seen (id) VALUES ('x')";
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  EXPECT_EQ(count(*db_, "SELECT COUNT(*) FROM seen"), 0);
  // The connection is usable afterwards and a normal write commits.
  db_->write([](Tx& tx) { tx.sql << "INSERT INTO seen (id) VALUES ('x')"; });
  EXPECT_EQ(count(*db_, "SELECT COUNT(*) FROM seen"), 1);
}

TEST_F(StorageDbTest, FailedStatementRollsBackEarlierOnes) {
  db_->write([](Tx& tx) { tx.sql << "INSERT INTO seen (id) VALUES ('dup')"; });
  EXPECT_ANY_THROW(db_->write([](Tx& tx) {
    tx.sql << "INSERT INTO seen (id) VALUES ('fresh')";
    tx.sql << "INSERT INTO seen (id) VALUES ('dup')";  // primary key violation
  }));
  EXPECT_EQ(count(*db_, "SELECT COUNT(*) FROM seen WHERE id = 'fresh'"), 0);
  EXPECT_EQ(count(*db_, "SELECT COUNT(*) FROM seen"), 1);
}

TEST_F(StorageDbTest, PublishInRolledBackTransactionLeavesNoOutboxRow) {
  EXPECT_THROW(db_->write([](Tx& tx) {
    tx.publish("test.event", "{}");
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  EXPECT_EQ(count(*db_, "SELECT COUNT(*) FROM outbox"), 0);
  EXPECT_EQ(notified_.load(), 0) << "no relay wake-up for a rolled-back transaction";

  std::string id = db_->write([](Tx& tx) { return tx.publish("test.event", R"({"a":1})"); });
  EXPECT_TRUE(is_uuid(id));
  EXPECT_EQ(count(*db_, "SELECT COUNT(*) FROM outbox WHERE id = '" + id + "'"), 1);
  EXPECT_EQ(notified_.load(), 1);
}

TEST_F(StorageDbTest, WriteWithoutPublishDoesNotNotify) {
  db_->write([](Tx& tx) { tx.sql << "INSERT INTO seen (id) VALUES ('x')"; });
  EXPECT_EQ(notified_.load(), 0);
}

TEST_F(StorageDbTest, MigrateAppliesEachVersionOnce) {
  // Re-running the same list must not re-create `seen` (which would throw).
  db_->migrate("test", {"CREATE TABLE seen (id TEXT PRIMARY KEY)"});
  db_->migrate("test", {"CREATE TABLE seen (id TEXT PRIMARY KEY)", "CREATE TABLE more (k TEXT)"});
  EXPECT_EQ(count(*db_, "SELECT COUNT(*) FROM schema_migrations WHERE service = 'test'"), 2);
  EXPECT_EQ(count(*db_, "SELECT COUNT(*) FROM more"), 0);
  EXPECT_TRUE(db_->ping());
}

TEST_F(StorageDbTest, PruneInboxForgetsOnlyMessagesOlderThanTheCutoff) {
  long long now = now_ms();
  long long day = 24LL * 3600 * 1000;
  // Inbox rows of two consumers: ids made 10 days ago, 1 day ago and now (version-7 UUIDs order
  // by birth time; these are built from the floor of each time, as new_uuid() would order them).
  auto id_at = [](long long ms, char last) {
    std::string id = uuid7_floor(ms);
    id[14] = '7';
    id.back() = last;
    return id;
  };
  db_->write([&](Tx& tx) {
    for (const std::string consumer : {"a", "b"}) {
      EXPECT_TRUE(tx.first_delivery(consumer, id_at(now - 10 * day, '1')));
      EXPECT_TRUE(tx.first_delivery(consumer, id_at(now - day, '2')));
      EXPECT_TRUE(tx.first_delivery(consumer, new_uuid()));
    }
  });
  EXPECT_EQ(db_->prune_inbox(now - 8 * day), 2) << "one old row per consumer";
  EXPECT_EQ(count(*db_, "SELECT COUNT(*) FROM inbox"), 4);
  EXPECT_EQ(db_->prune_inbox(now - 8 * day), 0) << "nothing left to prune";
  // A message newer than the cutoff is still recognised as a duplicate.
  db_->write([&](Tx& tx) { EXPECT_FALSE(tx.first_delivery("a", id_at(now - day, '2'))); });
  EXPECT_LT(uuid7_floor(now - day), new_uuid());
  EXPECT_LT(new_uuid(), uuid7_floor(now + 1000));
}

}  // namespace
}  // namespace oms::bus
