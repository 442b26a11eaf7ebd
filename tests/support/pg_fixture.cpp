#include "tests/support/pg_fixture.hpp"

#include <cstdlib>
#include <fstream>
#include <pqxx/pqxx>

#include "common/uuid.hpp"

namespace ferry::testing {

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

std::optional<std::string> ClusterDsn(std::string* why) {
  const char* dir = std::getenv("FERRY_TEST_PG_DIR");
  if (!dir) {
    *why = "FERRY_TEST_PG_DIR is not set";
    return std::nullopt;
  }
  std::ifstream in(std::string(dir) + "/dsn");
  std::string dsn;
  if (!in || !std::getline(in, dsn) || dsn.empty()) {
    *why = std::string("no DSN in ") + dir + "/dsn (cluster not started?)";
    return std::nullopt;
  }
  return dsn;
}

PgSchema::PgSchema(std::string base_dsn) : base_(std::move(base_dsn)) {
  std::string id = NewUuid();
  id.erase(std::remove(id.begin(), id.end(), '-'), id.end());
  name_ = "t_" + id.substr(0, 16);
  pqxx::connection c(base_);
  pqxx::nontransaction w(c);
  w.exec("CREATE SCHEMA " + name_);
  dsn_ = base_ + " options='-c search_path=" + name_ + "'";
}

PgSchema::~PgSchema() {
  try {
    pqxx::connection c(base_);
    pqxx::nontransaction w(c);
    w.exec("DROP SCHEMA " + name_ + " CASCADE");
  } catch (...) {
    // A leftover schema in a throwaway test cluster is harmless.
  }
}

}  // namespace ferry::testing
