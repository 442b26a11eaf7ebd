#pragma once
// The connection pool and transactions. Callers see only Tx&, an opaque handle passed to the
// store functions, so one transaction can span hosts, servers and claims without any caller
// touching SQL.
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ferry::controller::store {

class Tx;
class PooledConnection;

class Database {
 public:
  // dsn: a libpq connection string. pool_size: connections opened lazily, at most this many.
  Database(std::string dsn, int pool_size);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs fn in one read-write transaction and commits. A ferry::Error thrown by fn, or a
  // database error (mapped to ferry::Error: unique/foreign-key violation -> kConflict, check
  // violation -> kBadRequest, lost connection -> kUnavailable), rolls it back and propagates.
  void Transact(const std::function<void(Tx&)>& fn);

  const std::string& dsn() const { return dsn_; }

 private:
  std::unique_ptr<PooledConnection> Acquire();
  void Release(std::unique_ptr<PooledConnection> c);

  std::string dsn_;
  int pool_size_;
  int open_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PooledConnection>> idle_;
};

}  // namespace ferry::controller::store
