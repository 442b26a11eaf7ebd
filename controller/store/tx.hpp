#pragma once
// Private to store/: the libpqxx side of a transaction. Statements are named constants,
// prepared once per connection on first use; no SQL is ever built by concatenation.
#include <pqxx/pqxx>
#include <string>
#include <unordered_set>
#include <utility>

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
  // w: the connection's transaction, or a subtransaction of it (InSavepoint).
  Tx(PooledConnection& c, pqxx::dbtransaction& w) : c_(c), w_(w) {}

  template <typename... Args>
  pqxx::result Exec(const Statement& s, Args&&... args) {
    if (c_.prepared.insert(s.name).second) c_.conn.prepare(s.name, s.sql);
    return w_.exec_prepared(s.name, std::forward<Args>(args)...);
  }
  pqxx::dbtransaction& work() { return w_; }
  PooledConnection& connection() { return c_; }

 private:
  PooledConnection& c_;
  pqxx::dbtransaction& w_;
};

}  // namespace ferry::controller::store
