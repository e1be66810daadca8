// PostgreSQL's half of Database: a pool of connections; a transaction that lost a race runs
// again (after a short random pause), and a connection the server dropped is opened again.
#include <soci/postgresql/soci-postgresql.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "libs/core/error.h"
#include "libs/storage/database.h"

namespace oms::storage {

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

bool is_race(const std::exception& e) {
  auto* pg = dynamic_cast<const soci::postgresql_soci_error*>(&e);
  if (!pg) return false;
  std::string state = pg->sqlstate();
  return state == "23505" || state == "40001" || state == "40P01";
}

// Returns whether the transaction published messages (the relay is told after the commit).
bool Database::write_postgres(const std::function<void(Tx&)>& f, bool durable) {
  bool notify = false;
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
  return notify;
}

void Database::read_postgres(const std::function<void(soci::session&)>& f) {
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

}  // namespace oms::storage
