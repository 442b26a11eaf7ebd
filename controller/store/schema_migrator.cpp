#include "controller/store/schema_migrator.hpp"

#include <spdlog/spdlog.h>

#include <map>
#include <pqxx/pqxx>

#include "common/errors.hpp"
#include "migrations-sql/embedded_sql.hpp"

namespace ferry::controller::store {
namespace {

// 0x6665727279 = "ferry": one upgrade at a time even with several controllers starting.
constexpr long long kUpgradeLockKey = 0x6665727279;

constexpr const char* kCreateTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
))sql";

std::string Checksum(pqxx::work& w, const std::string& text) {
  return w.exec_params1("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')", text)[0]
      .as<std::string>();
}

SchemaStatus Compare(pqxx::work& w) {
  std::map<int, std::pair<std::string, std::string>> in_db;  // version -> (name, checksum)
  for (const auto& row : w.exec("SELECT version, name, checksum FROM schema_migrations")) {
    in_db[row[0].as<int>()] = {row[1].as<std::string>(), row[2].as<std::string>()};
  }
  SchemaStatus status;
  std::map<int, bool> known;
  for (const auto& m : sql::EmbeddedMigrations()) {
    known[m.version] = true;
    auto it = in_db.find(m.version);
    if (it == in_db.end()) {
      status.pending.push_back(m.name);
    } else if (it->second.second != Checksum(w, m.text)) {
      status.edited.push_back(m.name);
    } else {
      status.applied.push_back(m.name);
    }
  }
  for (const auto& [version, entry] : in_db) {
    if (!known.count(version)) status.unknown.push_back(entry.first);
  }
  return status;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

SchemaStatus ReadSchemaStatus(const std::string& dsn) {
  pqxx::connection conn(dsn);
  pqxx::work w(conn);
  if (w.exec("SELECT to_regclass('schema_migrations') IS NULL")[0][0].as<bool>()) {
    SchemaStatus status;
    for (const auto& m : sql::EmbeddedMigrations()) status.pending.push_back(m.name);
    return status;
  }
  return Compare(w);
}

std::vector<std::string> UpgradeSchema(const std::string& dsn) {
  pqxx::connection conn(dsn);
  // A session-level lock: it outlives the short statements that take and release it. Taken
  // before anything else: concurrent CREATE TABLE IF NOT EXISTS can still fail on pg_type.
  auto session = [&](const char* sql) {
    pqxx::nontransaction n(conn);
    n.exec_params(sql, kUpgradeLockKey);
  };
  session("SELECT pg_advisory_lock($1)");
  std::vector<std::string> applied_now;
  try {
    {
      pqxx::work w(conn);
      w.exec(kCreateTable);
      w.commit();
    }
    SchemaStatus status;
    {
      pqxx::work w(conn);
      status = Compare(w);
    }
    if (!status.edited.empty()) {
      throw Error(Errc::kConflict,
                  "refusing to upgrade: already applied migration(s) were edited: " +
                      Join(status.edited) + " (add a new file instead)");
    }
    for (const auto& m : sql::EmbeddedMigrations()) {
      if (std::find(status.pending.begin(), status.pending.end(), m.name) == status.pending.end()) {
        continue;
      }
      pqxx::work w(conn);
      w.exec(m.text);
      w.exec_params("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    m.version, m.name, Checksum(w, m.text));
      w.commit();
      spdlog::info("schema migration applied name={}", m.name);
      applied_now.push_back(m.name);
    }
  } catch (...) {
    session("SELECT pg_advisory_unlock($1)");
    throw;
  }
  session("SELECT pg_advisory_unlock($1)");
  return applied_now;
}

void RequireCurrentSchema(const std::string& dsn) {
  SchemaStatus s = ReadSchemaStatus(dsn);
  if (!s.edited.empty()) {
    throw Error(Errc::kConflict, "schema files edited after they were applied: " + Join(s.edited));
  }
  if (!s.pending.empty()) {
    throw Error(Errc::kConflict, "schema migrations pending: " + Join(s.pending) +
                                     " (run `ferry-controller db upgrade`)");
  }
  if (!s.unknown.empty()) {
    throw Error(Errc::kConflict,
                "database has migrations this binary does not know: " + Join(s.unknown));
  }
}

}  // namespace ferry::controller::store
