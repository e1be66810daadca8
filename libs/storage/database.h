#pragma once
// One service's database: SQLite (embedded mode) or PostgreSQL (distributed mode) through SOCI.
//
// write(f) runs f(Tx&) in one transaction. Messages the transaction publishes go to this
// database's outbox table in the same transaction, and the commit listener (the relay) is woken
// after commit. On SQLite, writers are serialized by an in-process mutex (SQLite allows one
// writer anyway, and its own busy-wait sleeps in milliseconds); readers use a pool of
// connections and never wait for writers (WAL).
//
// Threads: any thread may call read/write; they block, so never call them from an I/O thread.
#include <soci/soci.h>

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

class Tx {
 public:
  explicit Tx(soci::session& s) : sql(s) {}
  soci::session& sql;

  // Adds a message to the outbox, published after this transaction commits. Returns its id.
  std::string publish(std::string_view subject, std::string_view payload);
  bool published_any() const { return published_ > 0; }

 private:
  int published_ = 0;
};

// Runs a statement with `use` bindings and returns the number of rows it changed.
template <class... Uses>
long long exec(soci::session& s, const std::string& q, Uses&&... uses) {
  soci::statement st = ((s.prepare << q), ..., std::forward<Uses>(uses));
  st.execute(true);
  return st.get_affected_rows();
}

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

  void set_commit_listener(std::function<void()> listener) { listener_ = std::move(listener); }
  // True when the database answers a trivial query (readiness).
  bool ping();

 private:
  void run_write(const std::function<void(Tx&)>& f);
  void run_read(const std::function<void(soci::session&)>& f);
  void open_session(soci::session& s);

  DbOptions options_;
  bool sqlite_;
  std::string name_;
  std::mutex write_mu_;
  std::unique_ptr<soci::session> writer_;   // SQLite only
  std::unique_ptr<soci::connection_pool> pool_;
  std::function<void()> listener_;
};

}  // namespace oms::storage
