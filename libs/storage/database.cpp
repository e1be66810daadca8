#include "libs/storage/database.h"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <chrono>
#include <random>
#include <thread>

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

constexpr const char* kOutboxInsert =
    "INSERT INTO outbox (id, subject, payload, created_ms, request_id) VALUES (:id, :s, :p, :t, :r)";
constexpr const char* kInboxInsert =
    "INSERT INTO inbox (consumer, message_id, handled_ms) VALUES (:c, :m, :t) ON CONFLICT DO NOTHING";

// Bound by reference: set the fields, then execute.
struct Prepared {
  std::string id, subject, payload, request_id;
  long long created = 0;
  std::string consumer, message_id;
  long long handled = 0;
  soci::statement outbox, inbox;
  explicit Prepared(soci::session& s)
      : outbox((s.prepare << kOutboxInsert, soci::use(id, "id"), soci::use(subject, "s"),
                soci::use(payload, "p"), soci::use(created, "t"), soci::use(request_id, "r"))),
        inbox((s.prepare << kInboxInsert, soci::use(consumer, "c"), soci::use(message_id, "m"),
               soci::use(handled, "t"))) {}
};

Prepared* Tx::prepared() {
  if (!cache_) return nullptr;
  if (!*cache_) *cache_ = std::make_unique<Prepared>(sql);
  return cache_->get();
}

std::string Tx::publish(std::string_view subject, std::string_view payload) {
  std::string id = new_uuid();
  if (Prepared* p = prepared()) {
    p->id = id;
    p->subject.assign(subject);
    p->payload.assign(payload);
    p->created = now_ms();
    p->request_id = log::current_request_id();
    p->outbox.execute(true);
  } else {
    std::string subj(subject), body(payload), rid = log::current_request_id();
    long long now = now_ms();
    sql << kOutboxInsert, soci::use(id, "id"), soci::use(subj, "s"), soci::use(body, "p"),
        soci::use(now, "t"), soci::use(rid, "r");
  }
  ++published_;
  return id;
}

bool Tx::first_delivery(const std::string& consumer, const std::string& message_id) {
  if (Prepared* p = prepared()) {
    p->consumer = consumer;
    p->message_id = message_id;
    p->handled = now_ms();
    p->inbox.execute(true);
    return p->inbox.get_affected_rows() > 0;
  }
  long long now = now_ms();
  return exec(sql, kInboxInsert, soci::use(consumer, "c"), soci::use(message_id, "m"),
              soci::use(now, "t")) > 0;
}

Database::Database(const DbOptions& options) : options_(options) {
  sqlite_ = options.url.rfind("sqlite:", 0) == 0;
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
  }
  pool_ = std::make_unique<soci::connection_pool>(options.pool_size);
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

void Database::ensure_connected(soci::session& s) {
  if (pg_connected(s)) return;
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

void Database::open_session(soci::session& s) {
  if (sqlite_) {
    std::string path = options_.url.substr(7);
    s.open(soci::sqlite3, "db=" + path + " timeout=10");
    s << "PRAGMA journal_mode=WAL";
    s << (options_.durability == Durability::kFull ? "PRAGMA synchronous=FULL"
                                                   : "PRAGMA synchronous=NORMAL");
    s << "PRAGMA foreign_keys=ON";
    // Reads through a memory map: fewer pread calls for the readers,
    // whose caches a commit on the writer invalidates.
    s << "PRAGMA mmap_size=268435456";
    s << "PRAGMA cache_size=-4096";  // 4 MiB per connection; mmap serves the rest
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
  migrated_ = true;
}

struct Database::Job {
  const std::function<void(Tx&)>* f = nullptr;
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
  if (jobs.size() == 1) {  // nothing to separate: the transaction is the job's
    Job* job = jobs.front();
    try {
      s << "BEGIN IMMEDIATE";
      Tx tx(s, migrated_ ? &prepared_ : nullptr);
      (*job->f)(tx);
      s << "COMMIT";
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
        Tx tx(s, migrated_ ? &prepared_ : nullptr);
        try {
          (*job->f)(tx);
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

void Database::run_write(const std::function<void(Tx&)>& f) {
  bool notify = false;
  if (sqlite_) {
    Job job;
    job.f = &f;
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
      soci::session s(*pool_);
      ensure_connected(s);
      bool committing = false;
      auto rollback = [&s] {
        try {
          s << "ROLLBACK";
        } catch (...) {
        }
      };
      try {
        s << "BEGIN";
        Tx tx(s);
        f(tx);
        committing = true;
        s << "COMMIT";
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
    soci::session s(*pool_);
    f(s);
    return;
  }
  for (int attempt = 1;; ++attempt) {
    soci::session s(*pool_);
    ensure_connected(s);
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
