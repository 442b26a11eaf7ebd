// The schema migrator against a real PostgreSQL: pending -> applied, idempotent upgrades,
// refusal of edited files and of a database newer than the binary.
#include <gtest/gtest.h>

#include <latch>
#include <pqxx/pqxx>
#include <thread>

#include "common/errors.hpp"
#include "controller/store/schema_migrator.hpp"
#include "migrations-sql/embedded_sql.hpp"
#include "tests/support/pg_fixture.hpp"

namespace ferry::controller::store {
namespace {

using ferry::testing::PgSchema;

std::vector<std::string> AllNames() {
  std::vector<std::string> names;
  for (const auto& m : sql::EmbeddedMigrations()) names.push_back(m.name);
  return names;
}

void Sql(const std::string& dsn, const std::string& statement) {
  pqxx::connection c(dsn);
  pqxx::work w(c);
  w.exec(statement);
  w.commit();
}

template <typename Fn>
Errc ErrcOf(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no ferry::Error thrown";
  return Errc::kInternal;
}

TEST(EmbeddedMigrations, AreOrderedByVersionStartingWithTheFoundation) {
  const auto& all = sql::EmbeddedMigrations();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.front().version, 1);
  EXPECT_EQ(all.front().name, "0001_foundation");
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].version, all[i].version);
}

TEST(SchemaMigrator, FreshSchemaHasEveryMigrationPending) {
  FERRY_REQUIRE_PG(dsn);
  PgSchema schema(dsn);
  auto status = ReadSchemaStatus(schema.dsn());
  EXPECT_EQ(status.pending, AllNames());
  EXPECT_TRUE(status.applied.empty());
  EXPECT_TRUE(status.edited.empty());
  EXPECT_TRUE(status.unknown.empty());
}

TEST(SchemaMigrator, RequireCurrentSchemaRefusesAFreshSchema) {
  FERRY_REQUIRE_PG(dsn);
  PgSchema schema(dsn);
  EXPECT_EQ(ErrcOf([&] { RequireCurrentSchema(schema.dsn()); }), Errc::kConflict);
}

TEST(SchemaMigrator, UpgradeAppliesEveryPendingMigrationInOrder) {
  FERRY_REQUIRE_PG(dsn);
  PgSchema schema(dsn);
  EXPECT_EQ(UpgradeSchema(schema.dsn()), AllNames());
  auto status = ReadSchemaStatus(schema.dsn());
  EXPECT_EQ(status.applied, AllNames());
  EXPECT_TRUE(status.pending.empty());
  EXPECT_TRUE(status.edited.empty());
  EXPECT_TRUE(status.unknown.empty());
  // The tables landed in this schema (search_path), not in public.
  pqxx::connection c(schema.dsn());
  pqxx::work w(c);
  EXPECT_EQ(w.exec_params1("SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 "
                           "AND table_name IN ('hosts', 'servers', 'claims', 'migrations')",
                           schema.name())[0]
                .as<int>(),
            4);
}

TEST(SchemaMigrator, SecondUpgradeAppliesNothing) {
  FERRY_REQUIRE_PG(dsn);
  PgSchema schema(dsn);
  UpgradeSchema(schema.dsn());
  EXPECT_TRUE(UpgradeSchema(schema.dsn()).empty());
  EXPECT_EQ(ReadSchemaStatus(schema.dsn()).applied, AllNames());
}

TEST(SchemaMigrator, RequireCurrentSchemaPassesAfterUpgrade) {
  FERRY_REQUIRE_PG(dsn);
  PgSchema schema(dsn);
  UpgradeSchema(schema.dsn());
  EXPECT_NO_THROW(RequireCurrentSchema(schema.dsn()));
}

TEST(SchemaMigrator, EditedLandedFileIsReportedAndRefused) {
  FERRY_REQUIRE_PG(dsn);
  PgSchema schema(dsn);
  UpgradeSchema(schema.dsn());
  Sql(schema.dsn(), "UPDATE schema_migrations SET checksum = 'x' WHERE version = 1");
  auto status = ReadSchemaStatus(schema.dsn());
  EXPECT_EQ(status.edited, std::vector<std::string>{"0001_foundation"});
  EXPECT_TRUE(std::find(status.applied.begin(), status.applied.end(), "0001_foundation") ==
              status.applied.end());
  EXPECT_EQ(ErrcOf([&] { RequireCurrentSchema(schema.dsn()); }), Errc::kConflict);
  EXPECT_EQ(ErrcOf([&] { UpgradeSchema(schema.dsn()); }), Errc::kConflict);
}

TEST(SchemaMigrator, RefusedUpgradeReleasesTheUpgradeLock) {
  FERRY_REQUIRE_PG(dsn);
  PgSchema schema(dsn);
  UpgradeSchema(schema.dsn());
  Sql(schema.dsn(), "UPDATE schema_migrations SET checksum = 'x' WHERE version = 1");
  EXPECT_THROW(UpgradeSchema(schema.dsn()), Error);
  // Another fresh schema in the same database can still upgrade: the lock is free.
  PgSchema other(dsn);
  EXPECT_EQ(UpgradeSchema(other.dsn()), AllNames());
}

TEST(SchemaMigrator, UnknownNewerMigrationMakesRequireCurrentSchemaThrow) {
  FERRY_REQUIRE_PG(dsn);
  PgSchema schema(dsn);
  UpgradeSchema(schema.dsn());
  Sql(schema.dsn(),
      "INSERT INTO schema_migrations (version, name, checksum) "
      "VALUES (9999, '9999_from_the_future', 'abc')");
  auto status = ReadSchemaStatus(schema.dsn());
  EXPECT_EQ(status.unknown, std::vector<std::string>{"9999_from_the_future"});
  EXPECT_EQ(status.applied, AllNames());
  try {
    RequireCurrentSchema(schema.dsn());
    FAIL() << "expected RequireCurrentSchema to refuse";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConflict);
    EXPECT_NE(std::string(e.what()).find("9999_from_the_future"), std::string::npos) << e.what();
  }
}

TEST(SchemaMigrator, PendingMessageNamesTheFix) {
  FERRY_REQUIRE_PG(dsn);
  PgSchema schema(dsn);
  try {
    RequireCurrentSchema(schema.dsn());
    FAIL() << "expected RequireCurrentSchema to refuse";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("db upgrade"), std::string::npos) << e.what();
  }
}

// Several controllers starting at once against an empty database: one applies, none fails.
TEST(SchemaMigrator, ConcurrentUpgradesApplyEachMigrationExactlyOnce) {
  FERRY_REQUIRE_PG(dsn);
  PgSchema schema(dsn);
  constexpr int kControllers = 6;
  std::latch start(kControllers);
  std::vector<std::vector<std::string>> applied(kControllers);
  std::vector<std::string> errors(kControllers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kControllers; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      try {
        applied[i] = UpgradeSchema(schema.dsn());
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  size_t total = 0;
  for (int i = 0; i < kControllers; ++i) {
    EXPECT_EQ(errors[i], "") << "controller " << i;
    total += applied[i].size();
  }
  EXPECT_EQ(total, AllNames().size());
  EXPECT_NO_THROW(RequireCurrentSchema(schema.dsn()));
}

}  // namespace
}  // namespace ferry::controller::store
