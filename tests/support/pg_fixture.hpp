#pragma once
// Real PostgreSQL for tests: the ctest fixture starts a private cluster (deploy/pg) and writes
// its DSN to $FERRY_TEST_PG_DIR/dsn. Each test gets its own schema, dropped afterwards.
#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace ferry::testing {

// The cluster's DSN, or nullopt with `why` filled in.
std::optional<std::string> ClusterDsn(std::string* why);
bool InCi();

class PgSchema {
 public:
  explicit PgSchema(std::string base_dsn);  // creates a uniquely named schema
  ~PgSchema();
  PgSchema(const PgSchema&) = delete;
  PgSchema& operator=(const PgSchema&) = delete;
  // A DSN whose search_path is the schema, so everything (migrations too) lands there.
  const std::string& dsn() const { return dsn_; }
  const std::string& name() const { return name_; }

 private:
  std::string base_;
  std::string name_;
  std::string dsn_;
};

}  // namespace ferry::testing

// In a TEST body: binds `var` to the cluster DSN. Without a cluster the test fails under
// CI=true and skips elsewhere, saying why.
#define FERRY_REQUIRE_PG(var)                                                                 \
  std::string var;                                                                            \
  do {                                                                                        \
    std::string ferry_why_;                                                                   \
    auto ferry_dsn_ = ::ferry::testing::ClusterDsn(&ferry_why_);                              \
    if (!ferry_dsn_) {                                                                        \
      if (::ferry::testing::InCi()) FAIL() << "PostgreSQL required under CI: " << ferry_why_; \
      GTEST_SKIP() << "no PostgreSQL (" << ferry_why_ << "); run through tests/run or ctest"; \
    }                                                                                         \
    var = *ferry_dsn_;                                                                        \
  } while (0)
