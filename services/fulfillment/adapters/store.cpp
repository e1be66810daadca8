#include "services/fulfillment/adapters/store.h"

#include <array>

#include "libs/storage/statement.h"

namespace oms::fulfillment::adapters {

using domain::Task;

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> m = {
      "CREATE TABLE tasks (id TEXT PRIMARY KEY, order_id TEXT NOT NULL UNIQUE, status TEXT NOT NULL,"
      " tracking_number TEXT, created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL)",
      "CREATE INDEX tasks_status ON tasks (status, created_ms)",
      "CREATE INDEX tasks_created ON tasks (created_ms)",
      // The default list (open tasks, newest first) in index order: with tasks_status alone it
      // sorted every open task (all of them, once orders are shipped elsewhere) for each page.
      "CREATE INDEX tasks_open ON tasks (created_ms) WHERE status IN ('INITIATED', 'DISPATCHED')",
      // v2 (roles): who may see the task; NULL for tasks made before (staff only).
      "ALTER TABLE tasks ADD COLUMN owner_id TEXT",
      "CREATE INDEX tasks_owner ON tasks (owner_id, created_ms)",
  };
  return m;
}

namespace {

constexpr const char* kColumns = "id, order_id, status, tracking_number, created_ms, updated_ms, owner_id";

Task from_stmt(const storage::Stmt& r) {
  return Task{r.str(0), r.str(1), r.str(2), r.opt_str(3), r.num(4), r.num(5), r.opt_str(6)};
}

std::string insert_many_sql(bool pg) {
  return std::string("INSERT INTO tasks (") + kColumns + ") SELECT c0, c1, c2, c3, c4, c5, c6 FROM " +
         storage::json_table(pg, "$1", "ssssiis", "x") + " ORDER BY n";
}

std::string save_many_sql(bool pg) {
  return "UPDATE tasks SET status = x.c1, tracking_number = x.c2, updated_ms = x.c3 FROM " +
         storage::json_table(pg, "$1", "sssi", "x") + " WHERE tasks.id = x.c0";
}

}  // namespace

std::optional<Task> load(soci::session& sql, const std::string& order_id, bool lock) {
  static const std::string lite = std::string("SELECT ") + kColumns + " FROM tasks WHERE order_id = $1";
  static const std::string pg_lock = lite + " FOR UPDATE";
  return storage::select_one<Task>(sql, lock && storage::is_postgres(sql) ? pg_lock : lite, order_id, from_stmt);
}

std::map<std::string, Task> load_many(soci::session& sql, const std::vector<std::string>& order_ids) {
  static const std::string lite = storage::select_in(false, kColumns, "tasks", "order_id"),
                           pg = storage::select_in(true, kColumns, "tasks", "order_id");
  return storage::select_by_keys<Task>(sql, lite, pg, order_ids, 1, from_stmt);
}

void insert_many(soci::session& sql, const std::vector<const Task*>& tasks) {
  static const std::string lite = insert_many_sql(false), pg = insert_many_sql(true);
  storage::run_rows(sql, lite, pg, tasks, [](storage::JsonRows& r, const Task* t) {
    r.add(t->id).add(t->order_id).add(t->status).add(t->tracking_number).add(t->created_ms).add(t->updated_ms);
    r.add(t->owner_id);
  });
}

void save_many(soci::session& sql, const std::vector<const Task*>& tasks) {
  static const std::string lite = save_many_sql(false), pg = save_many_sql(true);
  storage::run_rows(sql, lite, pg, tasks, [](storage::JsonRows& r, const Task* t) {
    r.add(t->id).add(t->status).add(t->tracking_number).add(t->updated_ms);
  });
}

std::vector<Task> list(soci::session& sql, const std::string& status, const std::optional<std::string>& owner,
                       const std::optional<std::string>& before, int limit) {
  // Filter: 0 the open tasks, 1 every task, 2 one status; each with or without an owner and
  // `before`. The open tasks of everyone come in the order of the partial index tasks_open, which
  // SQLite's planner, without statistics, would pass over for tasks_status and a sort of every
  // open task; one owner's tasks come from tasks_owner.
  static const auto texts = [](bool pg) {
    std::array<std::string, 12> t;
    for (int w = 0; w < 12; ++w) {
      int filter = w % 3;
      bool by_owner = (w / 3) & 1, paged = w >= 6;
      std::vector<std::string> where;
      int n = 2;
      if (filter == 0) where.push_back("status IN ('INITIATED', 'DISPATCHED')");
      if (filter == 2) where.push_back("status = " + storage::param(n++));
      if (by_owner) where.push_back("owner_id = " + storage::param(n++));
      if (paged) where.push_back(storage::older_than("tasks", "created_ms", "id", n, n + 1));
      const char* hint = pg ? "" : by_owner ? " INDEXED BY tasks_owner" : filter == 0 ? " INDEXED BY tasks_open" : "";
      t[w] = std::string("SELECT ") + kColumns + " FROM tasks" + hint + storage::where_all(where) +
             " ORDER BY created_ms DESC, id DESC LIMIT $1";
    }
    return t;
  };
  static const auto lite = texts(false), pg = texts(true);
  int filter = status.empty() ? 0 : status == "ALL" ? 1 : 2;
  int w = filter + (owner ? 3 : 0) + (before ? 6 : 0);
  storage::StmtRef st(sql, storage::by_backend(sql, lite[w], pg[w]));
  st->integer(0, limit);
  int next = 1;
  if (filter == 2) st->text(next++, status);
  if (owner) st->text(next++, *owner);
  if (before) storage::bind_older_than(*st, next, *before);
  st->run();
  std::vector<Task> out;
  while (st->next()) out.push_back(from_stmt(*st));
  return out;
}

}  // namespace oms::fulfillment::adapters
