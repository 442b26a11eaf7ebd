#pragma once
// The fixture the store-level pg tests share: a fresh schema upgraded to the current migrations,
// a Database pool on it, fixed times, and a host registered straight through hosts_store.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "common/clock.hpp"
#include "controller/store/database.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/schema_migrator.hpp"
#include "tests/support/pg_fixture.hpp"

namespace ferry::controller::store {

// Allocation ratios and reservation, written after registration as an admin would.
struct HostAdminSettings {
  double cpu_ratio = 1.0;
  double ram_ratio = 1.0;
  double disk_ratio = 1.0;
  int64_t reserved_mb = 0;
};

// What StoreTest::AddHost registers beyond the name. Capacities default to HostRegistration's;
// without `admin` the host keeps the schema's ratios and reservation.
struct HostSpec {
  int vcpus = 0;
  int64_t memory_mb = 0;
  int64_t disk_gb = 0;
  std::optional<HostAdminSettings> admin;
};

class StoreTest : public ::testing::Test {
 protected:
  // Fixtures that need more call this first and return if it skipped or failed:
  //   StoreTest::SetUp(); if (IsSkipped() || HasFatalFailure()) return;
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    schema_ = std::make_unique<ferry::testing::PgSchema>(dsn);
    UpgradeSchema(schema_->dsn());
    // 8: ServerLifecycleTest's concurrent creates use up to 8 connections at once.
    db_ = std::make_unique<Database>(schema_->dsn(), 8);
  }

  // Runs `sql` with `params` in a transaction of its own, committed: the raw inserts and
  // reads the store's API has no call for.
  template <typename... Params>
  pqxx::result Sql(const std::string& sql, Params&&... params) {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    pqxx::result r = w.exec_params(sql, std::forward<Params>(params)...);
    w.commit();
    return r;
  }

  static TimePoint T(int64_t s) { return TimePoint(std::chrono::seconds(1'700'000'000 + s)); }

  // Registers a host in cell1 at T(0); returns its id.
  int64_t AddHost(const std::string& name, const HostSpec& spec = {}) {
    HostRegistration r;
    r.name = name;
    r.cell = "cell1";
    r.hypervisor_type = "QEMU";
    r.agent_url = "http://127.0.0.1:1";
    r.vcpus = spec.vcpus;
    r.memory_mb = spec.memory_mb;
    r.local_gb = spec.disk_gb;
    r.cpu_info = nlohmann::json::object();
    int64_t id = 0;
    db_->Transact([&](Tx& tx) { id = RegisterHost(tx, r, T(0)).id; });
    if (spec.admin) {
      pqxx::connection c(schema_->dsn());
      pqxx::work w(c);
      w.exec_params(
          "UPDATE hosts SET cpu_allocation_ratio = $2, ram_allocation_ratio = $3, "
          "disk_allocation_ratio = $4, reserved_host_memory_mb = $5 WHERE id = $1",
          id, spec.admin->cpu_ratio, spec.admin->ram_ratio, spec.admin->disk_ratio,
          spec.admin->reserved_mb);
      w.commit();
    }
    return id;
  }

  std::unique_ptr<ferry::testing::PgSchema> schema_;  // declared first: outlives db_
  std::unique_ptr<Database> db_;
};

}  // namespace ferry::controller::store
