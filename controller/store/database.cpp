#include "controller/store/database.hpp"

#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "common/metrics/metrics.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

metrics::HistogramFamily& PoolWait() {
  static auto& h = metrics::DefaultRegistry().AddHistogram(
      "ferry_db_pool_wait_seconds",
      "Seconds a transaction waited for a pooled PostgreSQL connection (a new connection's "
      "connect included), by pool: shared (API, moves), agents (heartbeats), liveness, leases, "
      "metrics. A wait past --db-acquire-timeout-ms is an error (reason pool_exhausted).",
      {"pool"}, metrics::LatencyBuckets());
  return h;
}

// Why a transaction failed at the database boundary, one fixed set: connection_lost,
// connect_failed, pool_exhausted, unavailable (the server cannot serve), timeout (statement or
// lock), conflict (unique, foreign key, serialization, deadlock), invalid (a check), internal.
metrics::CounterFamily& DbErrors() {
  static auto& c = []() -> metrics::CounterFamily& {
    auto& f = metrics::DefaultRegistry().AddCounter(
        "ferry_db_errors_total",
        "Transactions that failed at the database boundary, by reason: connection_lost, "
        "connect_failed, pool_exhausted, unavailable, timeout, conflict, invalid, internal.",
        {"reason"});
    for (const char* r : {"connection_lost", "connect_failed", "pool_exhausted", "unavailable",
                          "timeout", "conflict", "invalid", "internal"}) {
      f.With({r});  // every reason shows 0 from the start, so rate() and alerts see it
    }
    return f;
  }();
  return c;
}

void CountError(const char* reason) { DbErrors().With({reason}).Inc(); }

// SQLSTATE classes we turn into typed errors at this boundary.
Error MapSqlError(const pqxx::sql_error& e) {
  const std::string state = e.sqlstate();
  if (state == "23505" || state == "23503" || state == "40001" || state == "40P01") {
    CountError("conflict");
  }
  if (state == "23505") return Error(Errc::kConflict, "already exists");
  if (state == "23503") return Error(Errc::kConflict, "still referenced or missing reference");
  if (state == "23514" || state == "22001" || state == "22P02" || state == "2201B") {
    CountError("invalid");
    return Error(Errc::kBadRequest, "invalid value");
  }
  if (state == "40001" || state == "40P01")
    return Error(Errc::kConflict, "concurrent update, retry");
  // The server going away or unable to serve (connection 08, resources 53, shutdown 57P01-3,
  // system 58, a read-only standby after a failover 25006): unavailable, not the request's fault.
  if (state.rfind("08", 0) == 0 || state.rfind("53", 0) == 0 || state.rfind("58", 0) == 0 ||
      state == "57P01" || state == "57P02" || state == "57P03" || state == "25006") {
    spdlog::warn("database unavailable sqlstate={} what={}", state, e.what());
    CountError("unavailable");
    return Error(Errc::kUnavailable, "database unavailable");
  }
  // statement_timeout (57014) or lock_timeout (55P03): the database is too slow right now.
  if (state == "57014" || state == "55P03") {
    spdlog::warn("database statement cancelled sqlstate={} what={}", state, e.what());
    CountError("timeout");
    return Error(Errc::kUnavailable, "database timed out");
  }
  spdlog::error("database error sqlstate={} what={}", state, e.what());
  CountError("internal");
  return Error(Errc::kInternal, "database error");
}

}  // namespace

Database::Database(std::string dsn, DatabaseOptions options)
    : options_(std::move(options)),
      dsn_(WithSessionLimits(dsn, options_.session)),
      pool_size_(options_.pool_size) {
  PoolWait().With({options_.name});  // before the first wait, so the series shows at once
}

namespace {
DatabaseOptions PoolOf(int pool_size) {
  DatabaseOptions o;
  o.pool_size = pool_size;
  return o;
}
}  // namespace

Database::Database(std::string dsn, int pool_size) : Database(std::move(dsn), PoolOf(pool_size)) {}
Database::~Database() = default;

std::unique_ptr<PooledConnection> Database::Acquire() {
  metrics::ScopedTimer waited(PoolWait().With({options_.name}));
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, options_.acquire_timeout,
                    [&] { return !idle_.empty() || open_ < pool_size_; })) {
    spdlog::warn("database pool exhausted: no connection free within {} ms (pool {})",
                 options_.acquire_timeout.count(), pool_size_);
    waited.Cancel();
    CountError("pool_exhausted");
    throw Error(Errc::kUnavailable, "database busy, retry later");
  }
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }
  ++open_;
  lock.unlock();
  try {
    return std::make_unique<PooledConnection>(dsn_);
  } catch (const std::exception& e) {
    std::lock_guard relock(mu_);
    --open_;
    cv_.notify_one();
    waited.Cancel();
    CountError("connect_failed");
    spdlog::error("database connect failed: {}", e.what());
    throw Error(Errc::kUnavailable, "database unavailable");
  }
}

void Database::Release(std::unique_ptr<PooledConnection> c) {
  std::lock_guard lock(mu_);
  if (c->broken || !c->conn.is_open()) {
    --open_;
  } else {
    idle_.push_back(std::move(c));
  }
  cv_.notify_one();
}

void Database::Transact(const std::function<void(Tx&)>& fn) { Run<pqxx::work>(fn); }

void Database::ReadOneStatement(const std::function<void(Tx&)>& fn) {
  Run<pqxx::nontransaction>(fn);
}

template <typename Transaction>
void Database::Run(const std::function<void(Tx&)>& fn) {
  auto conn = Acquire();
  struct Returner {
    Database* db;
    std::unique_ptr<PooledConnection>& c;
    ~Returner() { db->Release(std::move(c)); }
  } returner{this, conn};
  Tx::Hooks after_commit;
  try {
    Transaction w(conn->conn);
    Tx tx(*conn, w, &after_commit);
    fn(tx);
    w.commit();
  } catch (const pqxx::broken_connection& e) {
    conn->broken = true;
    CountError("connection_lost");
    spdlog::error("database connection lost: {}", e.what());
    throw Error(Errc::kUnavailable, "database unavailable");
  } catch (const pqxx::sql_error& e) {
    throw MapSqlError(e);
  } catch (const pqxx::transaction_rollback& e) {
    // Deadlock or serialization failure (40P01, 40001): in libpqxx 6 these derive from
    // pqxx::failure, not sql_error, so MapSqlError never sees them.
    spdlog::warn("transaction rolled back by the database: {}", e.what());
    CountError("conflict");
    throw Error(Errc::kConflict, "concurrent update, retry");
  }
  for (auto& hook : after_commit) {
    try {
      hook();
    } catch (const std::exception& e) {
      spdlog::warn("after-commit hook failed: {}", e.what());
    }
  }
}

void InSavepoint(Tx& tx, const std::function<void(Tx&)>& fn) {
  // A subtransaction (SAVEPOINT): libpqxx aborts the transaction a failed statement ran in,
  // so fn's statements must run in the subtransaction for the outer one to stay usable.
  // What fn asked to run after commit is dropped with its savepoint.
  const size_t hooks_before = tx.after_commit() ? tx.after_commit()->size() : 0;
  auto drop_hooks = [&] {
    if (tx.after_commit()) tx.after_commit()->resize(hooks_before);
  };
  try {
    pqxx::subtransaction sub(tx.work(), "ferry_savepoint");
    Tx inner(tx.connection(), sub, tx.after_commit());
    fn(inner);
    sub.commit();
  } catch (const pqxx::broken_connection&) {
    drop_hooks();
    throw;
  } catch (const pqxx::sql_error& e) {
    drop_hooks();
    throw MapSqlError(e);
  } catch (const pqxx::transaction_rollback& e) {
    drop_hooks();
    throw Error(Errc::kConflict, std::string("concurrent update, retry: ") + e.what());
  } catch (...) {
    drop_hooks();
    throw;
  }
}

}  // namespace ferry::controller::store
