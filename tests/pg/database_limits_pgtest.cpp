// PostgreSQL time limits at the store boundary (H5): every pooled session carries statement,
// lock and idle-transaction timeouts; a connect, a pooled-connection wait and a runaway
// statement each end in a 503-shaped ferry::Error within a bound instead of hanging.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <latch>
#include <optional>
#include <thread>

#include "common/errors.hpp"
#include "controller/store/dashboard_store.hpp"
#include "controller/store/tx.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string Show(Database& db, const std::string& setting) {
  std::string v;
  db.Transact([&](Tx& tx) { v = tx.work().exec1("SHOW " + setting)[0].as<std::string>(); });
  return v;
}

// The Errc a transaction ends with, and how long it took.
std::pair<Errc, std::chrono::milliseconds> Outcome(Database& db,
                                                   const std::function<void(Tx&)>& fn) {
  auto start = Clock::now();
  Errc code = Errc::kInternal;
  try {
    db.Transact(fn);
    ADD_FAILURE() << "the transaction succeeded";
  } catch (const Error& e) {
    code = e.code();
  }
  return {code, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start)};
}

class DatabaseLimitsTest : public StoreTest {};

TEST_F(DatabaseLimitsTest, EverySessionCarriesTheTimeouts) {
  EXPECT_EQ(Show(*db_, "statement_timeout"), "10s");
  EXPECT_EQ(Show(*db_, "lock_timeout"), "5s");
  EXPECT_EQ(Show(*db_, "idle_in_transaction_session_timeout"), "1min");
  EXPECT_EQ(Show(*db_, "jit"), "off") << "no compile time added to a short statement";
  // The DSN's own options still apply (the fixture's search_path: the schema's tables resolve).
  db_->Transact([](Tx& tx) { tx.work().exec("SELECT count(*) FROM servers"); });
}

// The dashboard's pool (main.cpp's DashboardPool): every read it makes, in a transaction or as
// one statement outside a block, is read-only; the other pools write.
constexpr Statement kDeleteProbe{"test_delete_probe", "DELETE FROM ro_probe"};

TEST_F(DatabaseLimitsTest, AReadOnlyPoolRefusesWritesInAndOutsideATransactionBlock) {
  Sql("CREATE TABLE ro_probe (x integer)");
  Sql("INSERT INTO ro_probe VALUES (1)");
  DatabaseOptions options;
  options.pool_size = 1;
  options.session.read_only = true;
  Database reads(schema_->dsn(), options);
  EXPECT_EQ(Show(reads, "default_transaction_read_only"), "on");
  EXPECT_EQ(Show(*db_, "default_transaction_read_only"), "off");
  // A write there is refused as a read-only standby's would be (25006: unavailable).
  const auto outcome = [](const std::function<void()>& write) -> std::optional<Errc> {
    try {
      write();
    } catch (const Error& e) {
      return e.code();
    }
    return std::nullopt;
  };
  EXPECT_EQ(outcome([&] { reads.Transact([](Tx& tx) { tx.Exec(kDeleteProbe); }); }),
            Errc::kUnavailable);
  EXPECT_EQ(outcome([&] { reads.ReadOneStatement([](Tx& tx) { tx.Exec(kDeleteProbe); }); }),
            Errc::kUnavailable);
  EXPECT_EQ(Sql("SELECT count(*) FROM ro_probe")[0][0].as<int>(), 1) << "nothing was deleted";
  EXPECT_EQ(outcome([&] { db_->Transact([](Tx& tx) { tx.Exec(kDeleteProbe); }); }), std::nullopt)
      << "the writing pool writes";
  EXPECT_EQ(Sql("SELECT count(*) FROM ro_probe")[0][0].as<int>(), 0);
}

// The dashboard's own pools (main.cpp opens them): its reads are read-only and end after 2 s
// even when the DSN says otherwise; its sessions' writes write, and also end after 2 s.
TEST_F(DatabaseLimitsTest, TheDashboardsPoolsKeepTheirOwnLimits) {
  const std::string dsn =
      schema_->dsn() + " options='-c statement_timeout=0 -c default_transaction_read_only=off'";
  Database reads(dsn, DashboardReadPool({}));
  EXPECT_EQ(Show(reads, "default_transaction_read_only"), "on");
  EXPECT_EQ(Show(reads, "statement_timeout"), "2s");
  EXPECT_EQ(Show(reads, "plan_cache_mode"), "auto");
  EXPECT_EQ(reads.options().pool_size, 2);
  Database kept(dsn, DashboardKeptPlanPool({}));
  EXPECT_EQ(Show(kept, "default_transaction_read_only"), "on");
  EXPECT_EQ(Show(kept, "statement_timeout"), "2s");
  EXPECT_EQ(Show(kept, "plan_cache_mode"), "force_generic_plan");
  Database writes(schema_->dsn(), DashboardSessionPool({}));
  EXPECT_EQ(Show(writes, "default_transaction_read_only"), "off");
  EXPECT_EQ(Show(writes, "statement_timeout"), "2s");
  EXPECT_EQ(writes.options().pool_size, 1);
  EXPECT_EQ(writes.options().acquire_timeout, std::chrono::seconds(1));
  Database api(dsn, 1);
  EXPECT_EQ(Show(api, "statement_timeout"), "0") << "elsewhere the DSN's own options win";
  EXPECT_EQ(Show(api, "plan_cache_mode"), "auto");
}

TEST_F(DatabaseLimitsTest, SettingsInTheDsnWin) {
  auto dsn = WithSessionLimits(schema_->dsn() + " connect_timeout=7", {});
  EXPECT_NE(dsn.find("connect_timeout='7'"), std::string::npos) << dsn;
  // URIs too: their options come after ferry's, so they win.
  auto uri =
      WithSessionLimits("postgresql://ferry@127.0.0.1:1/ferry?options=-c%20lock_timeout%3D9", {});
  EXPECT_NE(uri.find("connect_timeout='5'"), std::string::npos) << uri;
  EXPECT_NE(uri.find("idle_in_transaction_session_timeout=60000 -c lock_timeout=9'"),
            std::string::npos)
      << uri;
  Database db(schema_->dsn() + " options='-c statement_timeout=1234'", 1);
  EXPECT_EQ(Show(db, "statement_timeout"), "1234ms");
  EXPECT_EQ(Show(db, "lock_timeout"), "5s");
}

TEST_F(DatabaseLimitsTest, ARunawayStatementIsCancelledAsUnavailable) {
  DatabaseOptions o;
  o.pool_size = 1;
  o.session.statement_timeout = 300ms;
  Database db(schema_->dsn(), o);
  auto [code, took] = Outcome(db, [](Tx& tx) { tx.work().exec("SELECT pg_sleep(5)"); });
  EXPECT_EQ(code, Errc::kUnavailable);
  EXPECT_LT(took, 2s);
  // The connection is fine afterwards.
  EXPECT_EQ(Show(db, "statement_timeout"), "300ms");
}

TEST_F(DatabaseLimitsTest, AnExhaustedPoolAnswersUnavailableAfterTheAcquireTimeout) {
  DatabaseOptions o;
  o.pool_size = 1;
  o.acquire_timeout = 300ms;
  Database db(schema_->dsn(), o);
  std::latch holding(1), release(1);
  std::thread holder([&] {
    db.Transact([&](Tx&) {
      holding.count_down();
      release.wait();
    });
  });
  holding.wait();
  auto [code, took] = Outcome(db, [](Tx&) {});
  release.count_down();
  holder.join();
  EXPECT_EQ(code, Errc::kUnavailable);
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
  db.Transact([](Tx&) {});  // served again once the connection is back
}

// A local socket that accepts TCP connections (the kernel completes the handshake into the
// backlog) but never reads or answers: a black-holed server, as far as libpq can tell.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(fd_, 16);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~SilentListener() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(DatabaseLimitsTest, ConnectingToASilentServerTimesOut) {
  SilentListener silent;
  DatabaseOptions o;
  o.pool_size = 1;
  o.session.connect_timeout_s = 2;  // libpq's smallest effective value
  Database db("host=127.0.0.1 port=" + std::to_string(silent.port()) + " dbname=ferry user=ferry",
              o);
  auto [code, took] = Outcome(db, [](Tx&) {});
  EXPECT_EQ(code, Errc::kUnavailable);
  EXPECT_LT(took, 5s);
}

// A read sent for its values (Tx::ExecForValues) is planned for them on the dashboard's read
// pool, and only there: the kept-plan pool's setting holds unnamed statements to a generic
// plan too, and a generic plan of "$1 IS NULL OR id = $1" reads the whole table (a member's
// history or moves would walk every move of the range).
TEST_F(DatabaseLimitsTest, TheDashboardsReadPoolPlansAReadForItsValues) {
  Sql("CREATE TABLE plan_probe (id bigint PRIMARY KEY, v text)");
  Sql("INSERT INTO plan_probe SELECT g, 'x' FROM generate_series(1, 20000) g");
  Sql("ANALYZE plan_probe");
  constexpr Statement kProbe{"plan_probe",
                             "SELECT v FROM plan_probe WHERE ($1::bigint IS NULL OR id = $1)"};
  // How the read scanned the table: the session's own counts (pg_stat_xact_*, which add up
  // until the session reports them), before and after.
  const auto scans = [&](Database& db) {
    std::string how;
    db.Transact([&](Tx& tx) {
      const auto counts = [&] {
        auto r = tx.work().exec1(
            "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables "
            "WHERE relname = 'plan_probe' AND schemaname = current_schema()");
        return std::make_pair(r[0].as<int64_t>(), r[1].as<int64_t>());
      };
      const auto before = counts();
      EXPECT_EQ(tx.ExecForValues(kProbe, int64_t{7}).size(), 1u);
      const auto after = counts();
      how = "seq_scan=" + std::to_string(after.first - before.first) +
            " idx_scan=" + std::to_string(after.second - before.second);
    });
    return how;
  };
  Database reads(schema_->dsn(), DashboardReadPool({}));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(scans(reads), "seq_scan=0 idx_scan=1") << "run " << i;
  Database kept(schema_->dsn(), DashboardKeptPlanPool({}));
  EXPECT_EQ(scans(kept), "seq_scan=1 idx_scan=0")
      << "the kept-plan pool is not for reads planned for their values";
}

}  // namespace
}  // namespace ferry::controller::store
