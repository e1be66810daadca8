#pragma once
// One service's database: SQLite (embedded mode) or PostgreSQL (distributed mode) through SOCI.
//
// write(f) runs f(Tx&) atomically: its changes and the messages it publishes (this database's
// outbox) commit together or not at all, and the commit listener (the relay) is woken after the
// commit. write() returns only once the commit is durable.
//
// On SQLite, writes are group-committed: SQLite allows one writer at a time and an fsync costs
// ~100 µs or more, so concurrent write() calls are queued and the first caller runs a whole
// queue of them in one transaction, each inside its own SAVEPOINT (a function that throws rolls
// back only its own changes and gets its exception back). One fsync then covers many requests:
// that is how durability=full and throughput coexist. Readers use a pool of connections and
// never wait for writers (WAL). On PostgreSQL each write is its own transaction on a pooled
// connection.
//
// Threads: any thread may call read/write; they block, so never call them from an I/O thread.
#include <soci/soci.h>

#include "libs/storage/statement.h"

#include <stdexcept>

#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oms::storage {

enum class Durability { kFull, kNormal };

struct DbOptions {
  std::string url;  // "sqlite:/path/file.db" or "postgresql://user@host:port/db"
  Durability durability = Durability::kFull;
  int pool_size = 4;
};

// A write lost a race with a concurrent one (e.g. an optimistic version check failed).
// Database::write runs the function again; on SQLite writes never race, so it never happens.
struct Conflict : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Tx {
 public:
  explicit Tx(soci::session& s) : sql(s) {}
  soci::session& sql;

  // Adds a message to the outbox, published after this transaction commits. Returns its id.
  // Rows are buffered and written together by flush(), in one statement.
  std::string publish(std::string_view subject, std::string_view payload);
  bool published_any() const { return published_ > 0; }
  // Records (consumer, message id) in the inbox; false if it was there already (a duplicate).
  bool first_delivery(const std::string& consumer, const std::string& message_id);
  // The same for many ids in one statement: true at i when ids[i] is seen for the first time.
  std::vector<bool> first_deliveries(const std::string& consumer, const std::vector<std::string>& ids);
  // Writes the buffered outbox rows. Database::write calls it before committing; whoever runs a
  // savepoint inside a transaction calls it before releasing one, and discard() after rolling
  // one back.
  void flush();
  void discard() { outbox_.clear(); }

 private:
  struct OutboxRow {
    std::string id, subject, payload, request_id;
    long long created_ms;
  };
  std::vector<OutboxRow> outbox_;
  int published_ = 0;
};

// Runs a statement with `use` bindings and returns the number of rows it changed.
template <class... Uses>
long long exec(soci::session& s, const std::string& q, Uses&&... uses) {
  soci::statement st = ((s.prepare << q), ..., std::forward<Uses>(uses));
  st.execute(true);
  return st.get_affected_rows();
}

// " FOR UPDATE" when `lock` is set and the database is PostgreSQL; "" otherwise (SQLite has one
// writer: rows need no lock). Appended to the SELECT that loads a row a transaction is about to
// change, so that two replicas (or two consumer threads) changing the same order, saga or
// payment take turns instead of one overwriting the other's change.
std::string_view for_update(soci::session& s, bool lock = true);

// True for a PostgreSQL error that means "lost a race with another transaction" (a unique key
// inserted by both, a serialization failure, a deadlock): running the transaction again is right.
bool is_race(const std::exception& e);

class Database {
 public:
  explicit Database(const DbOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  bool is_sqlite() const { return sqlite_; }
  const std::string& name() const { return name_; }

  // Applies the service's schema once per version. Statements may use %SERIAL_PK% for an
  // auto-increment primary key column; every statement must be valid on both SQLite and
  // PostgreSQL. The framework's own tables (outbox, inbox, dead_letters) are created first.
  void migrate(std::string_view service, const std::vector<std::string>& statements);

  template <class F>
  auto write(F&& f) {
    using R = decltype(f(std::declval<Tx&>()));
    if constexpr (std::is_void_v<R>) {
      run_write([&](Tx& tx) { f(tx); });
    } else {
      std::optional<R> out;
      run_write([&](Tx& tx) { out.emplace(f(tx)); });
      return std::move(*out);
    }
  }

  // A write that need not survive a crash on its own: it commits without waiting for the disk
  // and becomes durable with the next durable commit on this database (the WAL is written in
  // order). For work whose loss is harmless, such as deleting outbox rows already published (a
  // crash re-publishes them and the inboxes drop the copies).
  void write_lazy(const std::function<void(Tx&)>& f) { run_write(f, /*durable=*/false); }

  template <class F>
  auto read(F&& f) {
    using R = decltype(f(std::declval<soci::session&>()));
    if constexpr (std::is_void_v<R>) {
      run_read([&](soci::session& s) { f(s); });
    } else {
      std::optional<R> out;
      run_read([&](soci::session& s) { out.emplace(f(s)); });
      return std::move(*out);
    }
  }

  // Forgets inbox rows of messages made before `before_ms` (message ids are version-7 UUIDs,
  // so an id orders by its birth time): up to `chunk` rows per consumer and call, in a lazy
  // commit. Returns how many. A message older than that is never delivered again (the broker
  // keeps messages for less), so its inbox row guards nothing any more.
  long long prune_inbox(long long before_ms, int chunk = 5000);

  void set_commit_listener(std::function<void()> listener) { listener_ = std::move(listener); }
  // True when the database answers a trivial query (readiness).
  // On PostgreSQL, read() and write() throw oms::Unavailable while the server cannot be reached
  // and reconnect by themselves once it is back.
  bool ping();

 private:
  void run_write(const std::function<void(Tx&)>& f, bool durable = true);
  void run_read(const std::function<void(soci::session&)>& f);
  // The two backends' halves (database_sqlite.cpp, database_postgres.cpp). The writes return
  // whether the transaction published messages.
  static void configure_sqlite();
  bool write_sqlite(const std::function<void(Tx&)>& f, bool durable);
  bool write_postgres(const std::function<void(Tx&)>& f, bool durable);
  void read_postgres(const std::function<void(soci::session&)>& f);
  void open_session(soci::session& s);
  void ensure_connected(soci::session& s, StmtCache& cache);  // PostgreSQL: reconnects a dropped session or throws Unavailable
  // A pooled connection and its statement cache, given back when it goes out of scope.
  class Lease {
   public:
    explicit Lease(Database& db) : db_(db), pos_(db.pool_->lease()) {}
    ~Lease() { db_.pool_->give_back(pos_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    soci::session& session() { return db_.pool_->at(pos_); }
    StmtCache& cache() { return *db_.caches_[pos_]; }

   private:
    Database& db_;
    std::size_t pos_;
  };

  DbOptions options_;
  bool sqlite_;
  std::string name_;
  struct Job;
  void run_group(std::vector<Job*>& jobs);

  // Group commit (SQLite): the queue of pending writes and whether a leader is running one.
  std::mutex queue_mu_;
  std::vector<Job*> queue_;
  bool leader_active_ = false;
  std::unique_ptr<soci::session> writer_;   // SQLite only; used by the current leader
  std::unique_ptr<StmtCache> writer_cache_;  // the writer's prepared statements
  std::unique_ptr<soci::connection_pool> pool_;
  std::vector<std::unique_ptr<StmtCache>> caches_;  // one per pool connection, by position
  std::function<void()> listener_;
};

}  // namespace oms::storage
