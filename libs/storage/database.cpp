#include "libs/storage/database.h"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <mutex>
#include <chrono>
#include <unordered_set>

#include "libs/core/clock.h"
#include "libs/core/error.h"
#include "libs/core/ids.h"
#include "libs/core/log.h"

namespace oms::storage {
namespace {

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

const std::vector<std::string>& framework_schema() {
  static const std::vector<std::string> s = {
      "CREATE TABLE IF NOT EXISTS outbox (seq %SERIAL_PK%, id TEXT NOT NULL, subject TEXT NOT NULL,"
      " payload TEXT NOT NULL, created_ms BIGINT NOT NULL, request_id TEXT NOT NULL DEFAULT '')",
      "CREATE TABLE IF NOT EXISTS inbox (consumer TEXT NOT NULL, message_id TEXT NOT NULL,"
      " handled_ms BIGINT NOT NULL, PRIMARY KEY (consumer, message_id))",
      "CREATE TABLE IF NOT EXISTS dead_letters (id TEXT PRIMARY KEY, consumer TEXT NOT NULL,"
      " message_id TEXT NOT NULL, subject TEXT NOT NULL, payload TEXT NOT NULL, error TEXT NOT NULL,"
      " attempts INTEGER NOT NULL, created_ms BIGINT NOT NULL, retried_ms BIGINT)",
      "CREATE TABLE IF NOT EXISTS schema_migrations (service TEXT NOT NULL, version INTEGER NOT NULL,"
      " applied_ms BIGINT NOT NULL, PRIMARY KEY (service, version))",
  };
  return s;
}

}  // namespace

namespace {

const std::string kOutboxInsert =
    "INSERT INTO outbox (id, subject, payload, created_ms, request_id) VALUES ($1, $2, $3, $4, $5)";
const std::string kInboxInsert =
    "INSERT INTO inbox (consumer, message_id, handled_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

// Many rows in one statement whose text does not depend on their number (statement.h).
std::string outbox_insert_many(bool pg) {
  return "INSERT INTO outbox (id, subject, payload, created_ms, request_id) SELECT c0, c1, c2, c3, c4 FROM " +
         json_table(pg, "$1", "sssis", "x") + " ORDER BY n";
}
std::string inbox_insert_many(bool pg) {
  return std::string("INSERT INTO inbox (consumer, message_id, handled_ms) SELECT CAST($1 AS TEXT), v,") +
         " CAST($2 AS BIGINT) FROM " + json_values(pg, "$3") +
         " AS x WHERE true ON CONFLICT DO NOTHING RETURNING message_id";
}

}  // namespace

std::string Tx::publish(std::string_view subject, std::string_view payload) {
  std::string id = new_uuid();
  outbox_.push_back({id, std::string(subject), std::string(payload), log::current_request_id(), now_ms()});
  ++published_;
  return id;
}

void Tx::flush() {
  if (outbox_.empty()) return;
  if (outbox_.size() == 1) {
    const auto& r = outbox_.front();
    StmtRef st(sql, kOutboxInsert);
    st->text(0, r.id).text(1, r.subject).text(2, r.payload).integer(3, r.created_ms).text(4, r.request_id);
    st->run();
  } else {
    static const std::string lite = outbox_insert_many(false), pg = outbox_insert_many(true);
    JsonRows rows;
    for (const auto& r : outbox_) rows.row().add(r.id).add(r.subject).add(r.payload).add(r.created_ms).add(r.request_id);
    StmtRef st(sql, by_backend(sql, lite, pg));
    st->text(0, rows.take());
    st->run();
  }
  outbox_.clear();
}

bool Tx::first_delivery(const std::string& consumer, const std::string& message_id) {
  StmtRef st(sql, kInboxInsert);
  st->text(0, consumer).text(1, message_id).integer(2, now_ms());
  return st->run() > 0;
}

std::vector<bool> Tx::first_deliveries(const std::string& consumer, const std::vector<std::string>& ids) {
  std::vector<bool> out(ids.size(), false);
  if (ids.size() == 1) {
    out[0] = first_delivery(consumer, ids[0]);
    return out;
  }
  if (ids.empty()) return out;
  static const std::string lite = inbox_insert_many(false), pg = inbox_insert_many(true);
  StmtRef st(sql, by_backend(sql, lite, pg));
  st->text(0, consumer).integer(1, now_ms()).text(2, json_strings(ids));
  st->run();
  std::unordered_set<std::string> fresh;
  while (st->next()) fresh.insert(st->str(0));
  // The same id twice in one batch (a redelivery that overtook the first): only the first is new.
  for (std::size_t i = 0; i < ids.size(); ++i) out[i] = fresh.erase(ids[i]) > 0;
  return out;
}


Database::Database(const DbOptions& options) : options_(options) {
  sqlite_ = options.url.rfind("sqlite:", 0) == 0;
  if (sqlite_) configure_sqlite();
  name_ = options.url;
  // Without a connect timeout libpq waits for the kernel's (minutes) on an unreachable host.
  if (!sqlite_ && options_.url.find("connect_timeout") == std::string::npos) {
    bool uri = options_.url.starts_with("postgresql://") || options_.url.starts_with("postgres://");
    options_.url += uri ? (options_.url.find('?') == std::string::npos ? "?connect_timeout=5" : "&connect_timeout=5")
                        : " connect_timeout=5";
  }
  if (sqlite_) {
    writer_ = std::make_unique<soci::session>();
    open_session(*writer_);
    writer_cache_ = std::make_unique<StmtCache>();
  }
  pool_ = std::make_unique<soci::connection_pool>(options.pool_size);
  for (int i = 0; i < options.pool_size; ++i) caches_.push_back(std::make_unique<StmtCache>());
  for (int i = 0; i < options.pool_size; ++i) {
    if (sqlite_) {
      open_session(pool_->at(i));
      continue;
    }
    // PostgreSQL may not be up yet: a session that cannot connect now connects on first use.
    try {
      open_session(pool_->at(i));
    } catch (const std::exception& e) {
      log::warn({"storage"}, std::string("PostgreSQL not reachable yet: ") + e.what());
      break;
    }
  }
}

Database::~Database() = default;

namespace {
// Counts the statements SOCI sends (and spares SOCI's default logger its copy of every query).
struct CountingLogger : soci::logger_impl {
  void start_query(std::string const&) override { db_stats().statements.fetch_add(1, std::memory_order_relaxed); }
  soci::logger_impl* do_clone() const override { return new CountingLogger; }
  // SOCI's base class throws here; no query text is kept (that copy is what this logger saves).
  std::string get_last_query() const override { return {}; }
};
}  // namespace

void Database::open_session(soci::session& s) {
  s.set_logger(new CountingLogger);
  if (sqlite_) {
    std::string path = options_.url.substr(7);
    s.open(soci::sqlite3, "db=" + path + " timeout=10");
    s << "PRAGMA journal_mode=WAL";
    s << (options_.durability == Durability::kFull ? "PRAGMA synchronous=FULL"
                                                   : "PRAGMA synchronous=NORMAL");
    s << "PRAGMA foreign_keys=ON";
    // No memory map: every connection of a file mapped it separately, and each mapping's pages
    // counted in the process's resident set again (32 MB of 75 MB after 20 s at 1,000 orders/s,
    // the whole order.db five times over). Pages come from the kernel's page cache by pread
    // instead; CPU per saga was the same in an A/B (docs/PERFORMANCE.md).
    s << "PRAGMA mmap_size=0";
    s << "PRAGMA cache_size=-2048";  // 2 MiB per connection
  } else {
    s.open(soci::postgresql, options_.url);
    // libpq prints NOTICEs (e.g. "relation already exists, skipping") on stderr, which would
    // break the JSON-lines logs: only warnings and errors, which come back as exceptions anyway.
    s << "SET client_min_messages TO WARNING";
  }
}

void Database::migrate(std::string_view service, const std::vector<std::string>& statements) {
  std::string serial = sqlite_ ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY";
  write([&](Tx& tx) {
    // Replicas starting together: one migrates, the others wait for it and find nothing to do.
    if (!sqlite_) tx.sql << "SELECT pg_advisory_xact_lock(7291)";
    for (const auto& st : framework_schema()) tx.sql << replace_all(st, "%SERIAL_PK%", serial);
    std::string svc(service);
    int applied = 0;
    soci::indicator ind;
    tx.sql << "SELECT MAX(version) FROM schema_migrations WHERE service = :s", soci::use(svc, "s"),
        soci::into(applied, ind);
    if (ind == soci::i_null) applied = 0;
    for (int v = applied + 1; v <= static_cast<int>(statements.size()); ++v) {
      tx.sql << replace_all(statements[v - 1], "%SERIAL_PK%", serial);
      long long now = now_ms();
      tx.sql << "INSERT INTO schema_migrations (service, version, applied_ms) VALUES (:s, :v, :t)",
          soci::use(svc, "s"), soci::use(v, "v"), soci::use(now, "t");
    }
  });
}

void Database::run_write(const std::function<void(Tx&)>& f, bool durable) {
  bool notify = sqlite_ ? write_sqlite(f, durable) : write_postgres(f, durable);
  if (notify && listener_) listener_();
}

void Database::run_read(const std::function<void(soci::session&)>& f) {
  if (!sqlite_) return read_postgres(f);
  Lease lease(*this);
  CacheScope scope(lease.session(), &lease.cache());
  f(lease.session());
}

long long Database::prune_inbox(long long before_ms, int chunk) {
  std::vector<std::string> consumers = read([](soci::session& s) {
    std::vector<std::string> out;
    // A loose index scan: one index probe per consumer, however many rows each has.
    StmtRef st(s,
               "WITH RECURSIVE c(consumer) AS (SELECT MIN(consumer) FROM inbox UNION ALL"
               " SELECT (SELECT MIN(consumer) FROM inbox WHERE consumer > c.consumer) FROM c"
               " WHERE c.consumer IS NOT NULL) SELECT consumer FROM c WHERE consumer IS NOT NULL");
    st->run();
    while (st->next()) out.push_back(st->str(0));
    return out;
  });
  std::string floor = uuid7_floor(before_ms);
  long long total = 0;
  for (const auto& consumer : consumers) {
    // Index-backed (the primary key is (consumer, message_id)), a chunk at a time so that no
    // transaction grows with the backlog of old rows.
    write_lazy([&](Tx& tx) {
      StmtRef st(tx.sql,
                 "DELETE FROM inbox WHERE consumer = $1 AND message_id IN (SELECT message_id FROM inbox"
                 " WHERE consumer = $1 AND message_id < $2 ORDER BY message_id LIMIT $3)");
      total += st->text(0, consumer).text(1, floor).integer(2, chunk).run();
    });
  }
  return total;
}

std::string_view for_update(soci::session& s, bool lock) {
  return lock && s.get_backend_name() == "postgresql" ? " FOR UPDATE" : "";
}

bool Database::ping() {
  try {
    int one = 0;
    read([&](soci::session& s) { s << "SELECT 1", soci::into(one); });
    return one == 1;
  } catch (...) {
    return false;
  }
}

}  // namespace oms::storage
