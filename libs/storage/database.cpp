#include "libs/storage/database.h"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <mutex>
#include <chrono>
#include <random>
#include <thread>
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

namespace {
// SQLite counts every allocation under one process-wide mutex by default (SQLITE_CONFIG_MEMSTATUS,
// for sqlite3_memory_used, which OMS does not call). With six databases and dozens of threads
// that mutex was a quarter of all context switches under load. It can only be turned off
// before SQLite initializes, i.e. before the first connection opens.
void configure_sqlite() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sqlite_api::sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
      log::warn({"storage"}, "SQLite was initialized already: its allocation statistics stay on");
  });
}
}  // namespace

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

namespace {

std::string first_line(std::string_view s) { return std::string(s.substr(0, s.find('\n'))); }

constexpr int kAttempts = 10;  // of a PostgreSQL transaction that lost a race

// A short random pause before running a transaction that lost a race again, so that the same
// contenders do not collide again in lockstep.
void backoff(int attempt) {
  thread_local std::minstd_rand rng(std::random_device{}());
  std::uniform_int_distribution<int> us(0, 500 * std::min(attempt, 8));
  std::this_thread::sleep_for(std::chrono::microseconds(us(rng)));
}

// Whether a PostgreSQL session's connection is still usable as far as libpq knows, without a
// round trip (soci's is_connected() sends a "/* ping */" query every time: a third of all
// statements under load). A connection the server dropped shows up as soon as a statement on it
// fails; the retry paths below then reopen it.
bool pg_connected(soci::session& s) {
  // (static_cast: SOCI's backend classes have hidden type information, no dynamic_cast.)
  if (!s.get_backend() || s.get_backend_name() != "postgresql") return false;
  auto* backend = static_cast<soci::postgresql_session_backend*>(s.get_backend());
  return backend->conn_ && PQstatus(backend->conn_) == CONNECTION_OK;
}

// What a failed statement on a PostgreSQL session means for whoever ran it.
enum class Failure {
  kLost,      // the connection is gone (a restart, a failover): Unavailable, or run again
  kBadInput,  // a value the database refuses (SQLSTATE class 22): InvalidInput
  kRace,      // lost a race with another transaction (is_race): run again
  kOther,     // anything else: the error as it is
};

Failure classify(soci::session& s, const soci::soci_error& e) {
  auto* pg = dynamic_cast<const soci::postgresql_soci_error*>(&e);
  std::string state = pg ? pg->sqlstate() : std::string();
  if (!pg_connected(s) || state.starts_with("08") || state == "57P01") return Failure::kLost;
  if (state.starts_with("22")) return Failure::kBadInput;
  if (is_race(e)) return Failure::kRace;
  return Failure::kOther;
}

[[noreturn]] void rethrow_as(Failure failure, const soci::soci_error& e) {
  if (failure == Failure::kLost) throw Unavailable("the database connection was lost: " + first_line(e.what()));
  if (failure == Failure::kBadInput) throw InvalidInput("a value was refused by the database: " + first_line(e.what()));
  throw;
}

}  // namespace

void Database::ensure_connected(soci::session& s, StmtCache& cache) {
  if (pg_connected(s)) return;
  cache.clear();  // its statements belong to the old connection
  try {
    s.close();
  } catch (...) {
  }
  try {
    open_session(s);
  } catch (const std::exception& e) {
    throw Unavailable("the database is unreachable: " + first_line(e.what()));
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

struct Database::Job {
  const std::function<void(Tx&)>* f = nullptr;
  bool durable = true;
  std::exception_ptr error;
  bool published = false;
  bool done = false;
  std::condition_variable cv;  // its own, so that finishing a group wakes only its members
};

namespace {
struct JobFailed {};
}  // namespace

// Runs the group in one transaction. First without savepoints (two statements fewer per job);
// if a job throws, the whole attempt is rolled back and the group runs again with each job in
// its own savepoint, so that only the failing job loses its changes.
void Database::run_group(std::vector<Job*>& jobs) {
  soci::session& s = *writer_;
  CacheScope scope(s, writer_cache_.get());
  // A group of lazy writes only commits without fsync; the next durable commit syncs the WAL
  // up to and including it.
  bool full = options_.durability == Durability::kFull;
  bool lazy = full && std::none_of(jobs.begin(), jobs.end(), [](const Job* j) { return j->durable; });
  auto& commits = full && !lazy ? db_stats().durable_commits : db_stats().lazy_commits;
  struct Relaxed {
    soci::session& s;
    bool on;
    Relaxed(soci::session& session, bool relax) : s(session), on(relax) {
      if (on) s << "PRAGMA synchronous=NORMAL";
    }
    ~Relaxed() {
      if (!on) return;
      try {
        s << "PRAGMA synchronous=FULL";
      } catch (...) {
      }
    }
  } relaxed(s, lazy);
  if (jobs.size() == 1) {  // nothing to separate: the transaction is the job's
    Job* job = jobs.front();
    try {
      s << "BEGIN IMMEDIATE";
      Tx tx(s);
      (*job->f)(tx);
      tx.flush();
      s << "COMMIT";
      commits.fetch_add(1, std::memory_order_relaxed);
      job->published = tx.published_any();
    } catch (...) {
      job->error = std::current_exception();
      job->published = false;
      try {
        s << "ROLLBACK";
      } catch (...) {
      }
    }
    return;
  }
  for (bool isolate : {false, true}) {
    try {
      s << "BEGIN IMMEDIATE";
      for (Job* job : jobs) {
        job->error = nullptr;
        job->published = false;
        if (isolate) s << "SAVEPOINT job";
        Tx tx(s);
        try {
          (*job->f)(tx);
          tx.flush();
          if (isolate) s << "RELEASE SAVEPOINT job";
          job->published = tx.published_any();
        } catch (...) {
          if (!isolate) throw JobFailed{};
          job->error = std::current_exception();
          s << "ROLLBACK TO SAVEPOINT job";  // throws if SQLite already rolled back everything
          s << "RELEASE SAVEPOINT job";
        }
      }
      s << "COMMIT";
      commits.fetch_add(1, std::memory_order_relaxed);
      return;
    } catch (const JobFailed&) {
      try {
        s << "ROLLBACK";
      } catch (...) {
      }
    } catch (...) {
      // The transaction itself failed: nothing of this group is stored.
      try {
        s << "ROLLBACK";
      } catch (...) {
      }
      auto err = std::current_exception();
      for (Job* job : jobs) {
        if (!job->error) job->error = err;
        job->published = false;
      }
      return;
    }
  }
}

void Database::run_write(const std::function<void(Tx&)>& f, bool durable) {
  bool notify = false;
  if (sqlite_) {
    Job job;
    job.f = &f;
    job.durable = durable;
    std::unique_lock lock(queue_mu_);
    queue_.push_back(&job);
    while (!job.done) {
      if (leader_active_) {
        job.cv.wait(lock);
        continue;
      }
      // Lead: take everything queued so far and commit it as one transaction.
      leader_active_ = true;
      std::vector<Job*> group;
      group.swap(queue_);
      lock.unlock();
      run_group(group);
      lock.lock();
      for (Job* j : group) {
        j->done = true;
        notify = notify || j->published;
        if (j != &job) j->cv.notify_one();
      }
      leader_active_ = false;
      // The first of those who queued meanwhile leads the next group.
      if (!queue_.empty()) queue_.front()->cv.notify_one();
    }
    lock.unlock();
    if (job.error) std::rethrow_exception(job.error);
  } else {
    // Concurrent transactions may collide (a unique key inserted by both, a serialization
    // failure, a deadlock, an optimistic version check): the loser runs again and then sees
    // the winner's row, e.g. a duplicate Idempotency-Key replays the first order.
    // A connection the server dropped (a restart, a failover) is opened again and the
    // transaction runs again, unless it was lost during COMMIT: then whether it committed is
    // unknown, and the caller gets Unavailable (503) instead of a possible double effect.
    for (int attempt = 1;; ++attempt) {
      Lease lease(*this);
      soci::session& s = lease.session();
      ensure_connected(s, lease.cache());
      CacheScope scope(s, &lease.cache());
      bool committing = false;
      auto rollback = [&s] {
        try {
          s << "ROLLBACK";
        } catch (...) {
        }
      };
      try {
        s << "BEGIN";
        if (!durable) s << "SET LOCAL synchronous_commit TO OFF";
        Tx tx(s);
        f(tx);
        tx.flush();
        committing = true;
        s << "COMMIT";
        (durable ? db_stats().durable_commits : db_stats().lazy_commits).fetch_add(1, std::memory_order_relaxed);
        notify = tx.published_any();
        break;
      } catch (const soci::soci_error& e) {
        rollback();
        Failure failure = classify(s, e);
        if (failure == Failure::kLost && !committing && attempt < 2) continue;
        if (failure != Failure::kRace || attempt >= kAttempts) rethrow_as(failure, e);
        backoff(attempt);
      } catch (const Conflict&) {
        rollback();
        if (attempt >= kAttempts) throw;
        backoff(attempt);
      } catch (...) {
        rollback();
        throw;
      }
    }
  }
  if (notify && listener_) listener_();
}

void Database::run_read(const std::function<void(soci::session&)>& f) {
  if (sqlite_) {
    Lease lease(*this);
    CacheScope scope(lease.session(), &lease.cache());
    f(lease.session());
    return;
  }
  for (int attempt = 1;; ++attempt) {
    Lease lease(*this);
    soci::session& s = lease.session();
    ensure_connected(s, lease.cache());
    CacheScope scope(s, &lease.cache());
    try {
      f(s);
      return;
    } catch (const soci::soci_error& e) {
      Failure failure = classify(s, e);
      if (failure == Failure::kLost && attempt < 2) continue;  // a read is safe to run again
      rethrow_as(failure, e);
    }
  }
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

bool is_race(const std::exception& e) {
  auto* pg = dynamic_cast<const soci::postgresql_soci_error*>(&e);
  if (!pg) return false;
  std::string state = pg->sqlstate();
  return state == "23505" || state == "40001" || state == "40P01";
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
