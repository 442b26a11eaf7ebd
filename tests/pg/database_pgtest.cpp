// store::Database against a real PostgreSQL: database errors become typed ferry::Errors at this
// boundary, a failed transaction leaves nothing behind, and the pool survives lost connections.
#include <gtest/gtest.h>

#include <latch>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <thread>

#include "common/errors.hpp"
#include "controller/store/flavors_store.hpp"
#include "controller/store/servers_store.hpp"
#include "controller/store/tx.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

class DatabaseTest : public StoreTest {
 protected:
  int64_t Count(const std::string& sql) {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    return w.exec(sql)[0][0].as<int64_t>();
  }
  void Exec(const std::string& sql) {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    w.exec(sql);
    w.commit();
  }
  // The Errc of the ferry::Error fn's transaction ends with (fails the test for anything else).
  Errc ErrcOf(const std::function<void(Tx&)>& fn) {
    try {
      db_->Transact(fn);
    } catch (const Error& e) {
      return e.code();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a ferry::Error: " << e.what();
      return Errc::kInternal;
    }
    ADD_FAILURE() << "the transaction succeeded";
    return Errc::kInternal;
  }
};

Flavor Tiny(const std::string& id, const std::string& name) {
  Flavor f;
  f.flavorid = id;
  f.name = name;
  f.vcpus = 1;
  f.memory_mb = 512;
  return f;
}

TEST_F(DatabaseTest, CommitsWhatTheFunctionDid) {
  db_->Transact([](Tx& tx) { CreateFlavor(tx, Tiny("1", "a")); });
  EXPECT_EQ(Count("SELECT count(*) FROM flavors"), 1);
}

TEST_F(DatabaseTest, AFerryErrorRollsEverythingBackAndPropagates) {
  EXPECT_EQ(ErrcOf([](Tx& tx) {
              CreateFlavor(tx, Tiny("1", "a"));
              throw Error(Errc::kNotFound, "changed my mind");
            }),
            Errc::kNotFound);
  EXPECT_EQ(Count("SELECT count(*) FROM flavors"), 0);
}

TEST_F(DatabaseTest, UniqueViolationIsConflict) {
  EXPECT_EQ(ErrcOf([](Tx& tx) {
              tx.work().exec("INSERT INTO datastores (name, kind) VALUES ('d', 'local')");
              tx.work().exec("INSERT INTO datastores (name, kind) VALUES ('d', 'local')");
            }),
            Errc::kConflict);
  EXPECT_EQ(Count("SELECT count(*) FROM datastores"), 0);
}

TEST_F(DatabaseTest, ForeignKeyViolationIsConflict) {
  EXPECT_EQ(
      ErrcOf([](Tx& tx) {
        tx.work().exec("INSERT INTO aggregate_hosts (aggregate_id, host_id) VALUES (424242, 1)");
      }),
      Errc::kConflict);
}

TEST_F(DatabaseTest, CheckViolationIsBadRequest) {
  EXPECT_EQ(ErrcOf([](Tx& tx) { CreateFlavor(tx, Tiny("1", std::string(300, 'n'))); }),
            Errc::kBadRequest);
}

TEST_F(DatabaseTest, InvalidRegularExpressionIsBadRequest) {
  EXPECT_EQ(ErrcOf([](Tx& tx) { tx.work().exec("SELECT 'a' ~ '('"); }), Errc::kBadRequest);
}

TEST_F(DatabaseTest, OtherDatabaseErrorsAreInternal) {
  EXPECT_EQ(ErrcOf([](Tx& tx) { tx.work().exec("SELECT * FROM no_such_table"); }), Errc::kInternal);
}

TEST_F(DatabaseTest, TheConnectionIsReusableAfterAFailedTransaction) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(ErrcOf([](Tx& tx) { tx.work().exec("SELECT * FROM no_such_table"); }),
              Errc::kInternal);
  }
  db_->Transact([](Tx& tx) { CreateFlavor(tx, Tiny("1", "a")); });
  db_->Transact([](Tx& tx) { EXPECT_TRUE(FindFlavor(tx, "1")); });
}

TEST_F(DatabaseTest, UnreachableDatabaseIsUnavailable) {
  Database nowhere("host=/nonexistent-ferry-socket-dir user=ferry dbname=ferry connect_timeout=2",
                   1);
  try {
    nowhere.Transact([](Tx&) {});
    FAIL() << "connected to nothing";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUnavailable);
  }
  // The failed attempt did not use up the pool's only slot.
  try {
    nowhere.Transact([](Tx&) {});
    FAIL() << "connected to nothing";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUnavailable);
  }
}

// The pool's connection dies (database restart, idle timeout, an admin's pg_terminate_backend):
// the next transaction on it reports the database unavailable, and the one after that works.
TEST_F(DatabaseTest, ALostConnectionIsUnavailableOnceAndThenReplaced) {
  Database db(schema_->dsn(), 1);
  int pid = 0;
  db.Transact([&](Tx& tx) { pid = tx.work().exec("SELECT pg_backend_pid()")[0][0].as<int>(); });
  {
    pqxx::connection admin(schema_->dsn());
    pqxx::nontransaction n(admin);
    n.exec_params("SELECT pg_terminate_backend($1)", pid);
  }
  try {
    db.Transact([](Tx& tx) { tx.work().exec("SELECT 1"); });
    FAIL() << "a terminated connection ran a statement";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUnavailable) << e.what();
  }
  int new_pid = 0;
  db.Transact([&](Tx& tx) { new_pid = tx.work().exec("SELECT pg_backend_pid()")[0][0].as<int>(); });
  EXPECT_NE(new_pid, pid);
}

// Two transactions lock two rows in opposite orders: PostgreSQL aborts one of them. That one
// must surface as a conflict (retryable), not as an unexpected internal error.
TEST_F(DatabaseTest, DeadlockIsConflictAndTheOtherTransactionCommits) {
  Exec("INSERT INTO datastores (name, kind) VALUES ('a', 'local'), ('b', 'local')");
  Database one(schema_->dsn(), 1), two(schema_->dsn(), 1);
  std::latch both_locked(2);
  std::mutex mu;
  std::vector<Errc> failures;
  std::string others;
  auto run = [&](Database& db, const char* first, const char* second, int value) {
    try {
      db.Transact([&](Tx& tx) {
        tx.work().exec_params("UPDATE datastores SET free_gb = $2 WHERE name = $1", first, value);
        both_locked.arrive_and_wait();
        tx.work().exec_params("UPDATE datastores SET free_gb = $2 WHERE name = $1", second, value);
      });
    } catch (const Error& e) {
      std::lock_guard lock(mu);
      failures.push_back(e.code());
    } catch (const std::exception& e) {
      std::lock_guard lock(mu);
      others += e.what();
    }
  };
  std::thread a(run, std::ref(one), "a", "b", 1);
  std::thread b(run, std::ref(two), "b", "a", 2);
  a.join();
  b.join();
  EXPECT_EQ(others, "");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0], Errc::kConflict);
  // The survivor's writes are whole: both rows carry the same value.
  EXPECT_EQ(Count("SELECT count(DISTINCT free_gb) FROM datastores"), 1);
}

// A read of one statement runs outside a transaction block: the statement is a transaction of
// its own (two reads see two transaction timestamps), so no BEGIN or COMMIT goes with it.
TEST_F(DatabaseTest, AReadOfOneStatementRunsOutsideATransactionBlock) {
  Database one(schema_->dsn(), 1);  // both reads on the same connection
  one.Transact([](Tx& tx) { CreateFlavor(tx, Tiny("1", "a")); });
  one.ReadOneStatement([](Tx& tx) { EXPECT_TRUE(FindFlavor(tx, "1")) << "what was committed"; });
  static constexpr Statement kStarted{"database_test_started",
                                      "SELECT transaction_timestamp()::text, pg_sleep(0.01)"};
  std::string first, second;
  one.ReadOneStatement([&](Tx& tx) { first = tx.Exec(kStarted)[0][0].as<std::string>(); });
  one.ReadOneStatement([&](Tx& tx) { second = tx.Exec(kStarted)[0][0].as<std::string>(); });
  EXPECT_NE(first, second);
  one.Transact([&](Tx& tx) {
    first = tx.Exec(kStarted)[0][0].as<std::string>();
    second = tx.Exec(kStarted)[0][0].as<std::string>();
  });
  EXPECT_EQ(first, second) << "a transaction's statements share its start";
}

// A statement sent for its values is never prepared: PostgreSQL plans it for the values each
// time (an unnamed statement), and the connection keeps no prepared statement of it.
TEST_F(DatabaseTest, AStatementSentForItsValuesIsNotPrepared) {
  Database one(schema_->dsn(), 1);
  static constexpr Statement kTwice{"database_test_twice", "SELECT $1::int * 2"};
  static constexpr Statement kPrepared{
      "database_test_prepared",
      "SELECT count(*) FROM pg_prepared_statements WHERE name IN ('database_test_twice', "
      "'database_test_prepared')"};
  for (int i = 1; i <= 7; ++i) {
    one.ReadOneStatement(
        [&](Tx& tx) { EXPECT_EQ(tx.ExecForValues(kTwice, i)[0][0].as<int>(), 2 * i); });
  }
  one.ReadOneStatement(
      [](Tx& tx) { EXPECT_EQ(tx.Exec(kPrepared)[0][0].as<int>(), 1) << "only this one"; });
  std::optional<Errc> refused;
  try {
    one.ReadOneStatement([](Tx& tx) { tx.ExecForValues(kTwice, "x"); });
  } catch (const Error& e) {
    refused = e.code();
  }
  EXPECT_EQ(refused, Errc::kBadRequest) << "errors map as a prepared statement's do";
}

TEST_F(DatabaseTest, AReadOfOneStatementMapsErrorsAndRefusesMore) {
  auto errc_of = [&](const std::function<void(Tx&)>& fn) {
    try {
      db_->ReadOneStatement(fn);
    } catch (const Error& e) {
      return e.code();
    }
    ADD_FAILURE() << "no ferry::Error";
    return Errc::kInternal;
  };
  static constexpr Statement kBadRegex{"database_test_bad_regex", "SELECT 'a' ~ '('"};
  static constexpr Statement kNoTable{"database_test_no_table", "SELECT * FROM no_such_table"};
  EXPECT_EQ(errc_of([](Tx& tx) { tx.Exec(kBadRegex); }), Errc::kBadRequest);
  EXPECT_EQ(errc_of([](Tx& tx) { tx.Exec(kNoTable); }), Errc::kInternal);
  // What needs a block cannot run outside one: a savepoint, a second statement, and so the
  // name filter's list (its regex timeout is set by a statement of its own).
  EXPECT_THROW(db_->ReadOneStatement([](Tx& tx) { InSavepoint(tx, [](Tx&) {}); }),
               std::logic_error);
  EXPECT_THROW(db_->ReadOneStatement([](Tx& tx) {
    FindFlavor(tx, "1");
    FindFlavor(tx, "1");
  }),
               std::logic_error);
  static constexpr Statement kOne{"database_test_one", "SELECT $1::int"};
  EXPECT_THROW(db_->ReadOneStatement([](Tx& tx) {
    tx.Exec(kOne, 1);
    tx.ExecForValues(kOne, 2);
  }),
               std::logic_error)
      << "an unprepared statement counts as one too";
  ServerFilter by_name;
  by_name.name_regex = "^a";
  EXPECT_THROW(db_->ReadOneStatement([&](Tx& tx) { ListServers(tx, by_name); }), std::logic_error);
  // The connection goes back to the pool usable.
  db_->Transact([](Tx& tx) { CreateFlavor(tx, Tiny("1", "a")); });
  db_->ReadOneStatement([](Tx& tx) { EXPECT_TRUE(FindFlavor(tx, "1")); });
}

}  // namespace
}  // namespace ferry::controller::store
