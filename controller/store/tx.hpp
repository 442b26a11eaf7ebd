#pragma once
// Private to store/: the libpqxx side of a transaction. Statements are named constants,
// prepared once per connection on first use; no SQL is ever built by concatenation.
#include <functional>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace ferry::controller::store {

struct Statement {
  const char* name;
  const char* sql;
};

class PooledConnection {
 public:
  explicit PooledConnection(const std::string& dsn) : conn(dsn) {}
  pqxx::connection conn;
  std::unordered_set<std::string> prepared;
  bool broken = false;
};

class Tx {
 public:
  using Hooks = std::vector<std::function<void()>>;
  // w: the connection's transaction, or a subtransaction of it (InSavepoint). after_commit:
  // where AfterCommit collects (null: AfterCommit drops them).
  Tx(PooledConnection& c, pqxx::dbtransaction& w, Hooks* after_commit = nullptr)
      : c_(c), w_(w), block_(&w), after_commit_(after_commit) {}
  // Statements outside a transaction block (Database::ReadOneStatement): no savepoint there.
  Tx(PooledConnection& c, pqxx::nontransaction& n, Hooks* after_commit = nullptr)
      : c_(c), w_(n), block_(nullptr), after_commit_(after_commit) {}

  template <typename... Args>
  pqxx::result Exec(const Statement& s, Args&&... args) {
    Count(s);
    if (c_.prepared.insert(s.name).second) c_.conn.prepare(s.name, s.sql);
    return w_.exec_prepared(s.name, std::forward<Args>(args)...);
  }
  // The statement sent unprepared, in the same one round trip: PostgreSQL plans an unnamed
  // statement for the values it is sent with, every time, where a prepared one may settle on a
  // generic plan made for no value in particular. For reads whose best plan depends on a value
  // (a large project's servers against a small one's, "IS NULL OR" filters).
  template <typename... Args>
  pqxx::result ExecForValues(const Statement& s, Args&&... args) {
    Count(s);
    return w_.exec_params(s.sql, std::forward<Args>(args)...);
  }
  // The transaction block, for savepoints and statements of its own.
  pqxx::dbtransaction& work() {
    if (!block_) throw std::logic_error("no transaction block: a read of one statement");
    return *block_;
  }
  PooledConnection& connection() { return c_; }
  // Runs fn once the whole transaction has committed (never when it rolls back, nor when the
  // savepoint it was asked in does): metrics of what a transaction did count only what landed.
  void AfterCommit(std::function<void()> fn) {
    if (after_commit_) after_commit_->push_back(std::move(fn));
  }
  Hooks* after_commit() { return after_commit_; }

 private:
  void Count(const Statement& s) {
    // Outside a block each statement commits alone and what it sets locally (a statement
    // timeout, read-only, an advisory lock) ends with it: a second one is a caller's mistake.
    if (!block_ && statements_++ > 0) {
      throw std::logic_error(std::string("a read of one statement ran a second: ") + s.name);
    }
  }

  PooledConnection& c_;
  pqxx::transaction_base& w_;
  pqxx::dbtransaction* block_;
  int statements_ = 0;
  Hooks* after_commit_;
};

}  // namespace ferry::controller::store
