// The JetStream adapter against a real nats-server started by the test: outbox → relay →
// JetStream → durable pull consumer → inbox, with de-duplication and dead letters.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "libs/bus/consumer.h"
#include "libs/bus/jetstream_bus.h"
#include "libs/bus/relay.h"
#include "libs/bus/tests/nats_server.h"
#include "libs/core/ids.h"

namespace oms::bus {
namespace {

constexpr const char* kSubject = "test.happened";

long long count(storage::Database& db, const std::string& q) {
  long long n = 0;
  db.read([&](soci::session& s) { s << q, soci::into(n); });
  return n;
}

bool eventually(const std::function<bool()>& pred) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

class JetStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(nats_.ok()) << nats_.error();
    dir_ = std::filesystem::temp_directory_path() / ("oms-js-" + new_uuid());
    std::filesystem::create_directories(dir_);
    a_ = std::make_unique<storage::Database>(storage::DbOptions{"sqlite:" + (dir_ / "a.db").string()});
    b_ = std::make_unique<storage::Database>(storage::DbOptions{"sqlite:" + (dir_ / "b.db").string()});
    a_->migrate("a", {});
    b_->migrate("b", {"CREATE TABLE seen (id TEXT PRIMARY KEY, payload TEXT NOT NULL)"});
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Subscription subscription() {
    return Subscription{"b", {kSubject}, b_.get(), each([this](const Message& m, storage::Tx& tx) {
                          if (m.payload == R"({"poison":true})") throw std::runtime_error("poison message");
                          tx.sql << "INSERT INTO seen (id, payload) VALUES (:id, :p)", soci::use(m.id, "id"),
                              soci::use(m.payload, "p");
                        })};
  }

  testing::NatsServer nats_;
  std::filesystem::path dir_;
  std::unique_ptr<storage::Database> a_, b_;
};

TEST_F(JetStreamTest, OutboxToConsumerExactlyOnceAndPoisonToDeadLetters) {
  JetStreamBus bus(nats_.url());
  bus.connect();
  bus.subscribe(subscription());
  Relay relay(*a_, bus, "a");
  a_->set_commit_listener([&relay] { relay.notify(); });
  bus.start();
  relay.start();

  for (int t = 0; t < 10; ++t)
    a_->write([&](storage::Tx& tx) {
      for (int i = 0; i < 10; ++i) tx.publish(kSubject, R"({"n":)" + std::to_string(t * 10 + i) + "}");
    });
  a_->write([&](storage::Tx& tx) { tx.publish(kSubject, R"({"poison":true})"); });

  EXPECT_TRUE(eventually([&] { return count(*b_, "SELECT COUNT(*) FROM seen") == 100; }))
      << count(*b_, "SELECT COUNT(*) FROM seen");
  EXPECT_TRUE(eventually([&] { return count(*a_, "SELECT COUNT(*) FROM outbox") == 0; }));
  EXPECT_TRUE(eventually([&] { return count(*b_, "SELECT COUNT(*) FROM dead_letters") == 1; }));
  long long attempts = 0;
  std::string error;
  b_->read([&](soci::session& s) {
    s << "SELECT attempts, error FROM dead_letters", soci::into(attempts), soci::into(error);
  });
  EXPECT_EQ(attempts, kMaxAttempts);
  EXPECT_NE(error.find("poison message"), std::string::npos) << error;

  // The same ids again (a relay that crashed before deleting its rows): nothing is applied twice.
  std::vector<Message> again;
  b_->read([&](soci::session& s) {
    soci::rowset<soci::row> rows = (s.prepare << "SELECT id, payload FROM seen");
    for (const auto& r : rows) again.push_back(Message{r.get<std::string>(0), kSubject, r.get<std::string>(1), 0});
  });
  ASSERT_EQ(again.size(), 100u);
  bool published = false;
  bus.publish(again, [&](bool ok) { published = ok; });
  EXPECT_TRUE(published);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // give a wrong delivery its chance
  EXPECT_EQ(count(*b_, "SELECT COUNT(*) FROM seen"), 100);

  relay.stop();
  bus.stop();
}

TEST_F(JetStreamTest, ConnectsThroughAListOfUrlsWithADeadServer) {
  // A NATS cluster is given as comma-separated URLs; a server that is down is skipped.
  JetStreamBus bus("nats://127.0.0.1:1, " + nats_.url());
  bus.connect();
  EXPECT_TRUE(eventually([&] { return bus.connected(); }));
  bus.subscribe(subscription());
  Relay relay(*a_, bus, "a");
  a_->set_commit_listener([&relay] { relay.notify(); });
  bus.start();
  relay.start();
  a_->write([&](storage::Tx& tx) { tx.publish(kSubject, R"({"n":1})"); });
  EXPECT_TRUE(eventually([&] { return count(*b_, "SELECT COUNT(*) FROM seen") == 1; }));
  relay.stop();
  bus.stop();
}

TEST_F(JetStreamTest, StartsWhileNatsIsDownAndConnectsLater) {
  // connect() returns although nobody listens (it used to block until NATS answered: a service
  // could then not even answer /healthz), and connected() says false.
  JetStreamBus bus("nats://127.0.0.1:1");
  bus.connect();
  EXPECT_FALSE(bus.connected());
  bus.start();
  bus.stop();
}

}  // namespace
}  // namespace oms::bus
