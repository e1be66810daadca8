// SQLite's half of Database: one writer connection and group commit. Every write to the file
// joins a queue; the first in line leads, runs everything queued so far as one transaction and
// one fsync, and wakes the others. Reads use the pool (database.cpp).
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <mutex>

#include "libs/core/log.h"
#include "libs/storage/database.h"

namespace oms::storage {

// SQLite counts every allocation under one process-wide mutex by default (SQLITE_CONFIG_MEMSTATUS,
// for sqlite3_memory_used, which OMS does not call). With six databases and dozens of threads
// that mutex was a quarter of all context switches under load. It can only be turned off
// before SQLite initializes, i.e. before the first connection opens.
void Database::configure_sqlite() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sqlite_api::sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
      log::warn({"storage"}, "SQLite was initialized already: its allocation statistics stay on");
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

// The group-commit write: queues the job, leads a group or waits for the leader to finish it.
// Returns whether the group published messages (the relay is told after the commit).
bool Database::write_sqlite(const std::function<void(Tx&)>& f, bool durable) {
  bool notify = false;
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
  return notify;
}

}  // namespace oms::storage
