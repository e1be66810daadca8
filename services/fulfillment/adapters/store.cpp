#include "services/fulfillment/adapters/store.h"

#include "libs/storage/statement.h"

namespace oms::fulfillment::adapters {

using domain::Task;

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> m = {
      "CREATE TABLE tasks (id TEXT PRIMARY KEY, order_id TEXT NOT NULL UNIQUE, status TEXT NOT NULL,"
      " tracking_number TEXT, created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL)",
      "CREATE INDEX tasks_status ON tasks (status, created_ms)",
      "CREATE INDEX tasks_created ON tasks (created_ms)",
  };
  return m;
}

namespace {

constexpr const char* kColumns = "id, order_id, status, tracking_number, created_ms, updated_ms";

Task from_stmt(const storage::Stmt& r) {
  return Task{r.str(0), r.str(1), r.str(2), r.opt_str(3), r.num(4), r.num(5)};
}

std::string insert_many_sql(bool pg) {
  return std::string("INSERT INTO tasks (") + kColumns + ") SELECT c0, c1, c2, c3, c4, c5 FROM " +
         storage::json_table(pg, "$1", "ssssii", "x") + " ORDER BY n";
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
  });
}

void save_many(soci::session& sql, const std::vector<const Task*>& tasks) {
  static const std::string lite = save_many_sql(false), pg = save_many_sql(true);
  storage::run_rows(sql, lite, pg, tasks, [](storage::JsonRows& r, const Task* t) {
    r.add(t->id).add(t->status).add(t->tracking_number).add(t->updated_ms);
  });
}

std::vector<Task> list(soci::session& sql, const std::string& status, int limit) {
  static const std::string base = std::string("SELECT ") + kColumns + " FROM tasks";
  static const std::string tail = " ORDER BY created_ms DESC, id DESC LIMIT $1";
  static const std::string open = base + " WHERE status IN ('INITIATED', 'DISPATCHED')" + tail;
  static const std::string all = base + tail;
  static const std::string one = base + " WHERE status = $2" + tail;
  storage::StmtRef st(sql, status.empty() ? open : status == "ALL" ? all : one);
  st->integer(0, limit);
  if (!status.empty() && status != "ALL") st->text(1, status);
  st->run();
  std::vector<Task> out;
  while (st->next()) out.push_back(from_stmt(*st));
  return out;
}

}  // namespace oms::fulfillment::adapters
