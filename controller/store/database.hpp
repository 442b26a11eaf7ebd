#pragma once
// The connection pool and transactions. Callers see only Tx&, an opaque handle passed to the
// store functions, so one transaction can span hosts, servers and claims without any caller
// touching SQL.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controller/store/session_limits.hpp"

namespace ferry::controller::store {

class Tx;
class PooledConnection;

struct DatabaseOptions {
  std::string name = "shared";  // the pool's label in metrics (ferry_db_pool_wait_seconds)
  int pool_size = 8;            // connections opened lazily, at most this many
  // 5 s: a request that cannot get a connection in 5 s is better answered 503 (clients and
  // agents retry) than left holding its thread while the pool is starved.
  std::chrono::milliseconds acquire_timeout{5'000};
  SessionLimits session;
};

// Runs fn inside a savepoint of tx. When fn throws, what it did is rolled back and the
// transaction stays usable for what comes next (a statement the database refused included,
// mapped to ferry::Error as Transact maps it); the exception propagates. A lost connection has
// nothing to roll back to and propagates as it is.
void InSavepoint(Tx& tx, const std::function<void(Tx&)>& fn);

class Database {
 public:
  // dsn: a libpq connection string; the session limits are merged into it (WithSessionLimits).
  Database(std::string dsn, DatabaseOptions options);
  Database(std::string dsn, int pool_size);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs fn in one read-write transaction and commits. A ferry::Error thrown by fn, or a
  // database error (mapped to ferry::Error: unique/foreign-key violation -> kConflict, check
  // violation -> kBadRequest, lost connection, statement or lock timeout -> kUnavailable),
  // rolls it back and propagates. No connection free within acquire_timeout -> kUnavailable.
  void Transact(const std::function<void(Tx&)>& fn);

  // Runs fn's one statement outside a transaction block, errors mapped as Transact maps them.
  // For a read that is one statement (a server's show, what clients poll): one round trip to
  // the database where Transact makes three (BEGIN, the statement, COMMIT). A second statement
  // or a savepoint in fn throws std::logic_error: outside a block, what a statement sets
  // locally (statement timeout, read-only) would not reach the next one. fn must write nothing.
  void ReadOneStatement(const std::function<void(Tx&)>& fn);

  // The connection string with the session limits, for connections of their own.
  const std::string& dsn() const { return dsn_; }
  const DatabaseOptions& options() const { return options_; }

 private:
  // Runs fn on a pooled connection in a Transaction (pqxx::work or pqxx::nontransaction), the
  // database's errors mapped to ferry::Error; commits a pqxx::work.
  template <typename Transaction>
  void Run(const std::function<void(Tx&)>& fn);
  std::unique_ptr<PooledConnection> Acquire();
  void Release(std::unique_ptr<PooledConnection> c);

  DatabaseOptions options_;
  std::string dsn_;
  int pool_size_;
  int open_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PooledConnection>> idle_;
};

}  // namespace ferry::controller::store
