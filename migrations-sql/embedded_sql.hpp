#pragma once
#include <string>
#include <vector>

namespace ferry::sql {

struct EmbeddedMigration {
  int version;
  std::string name;  // file name without .sql, e.g. "0001_foundation"
  std::string text;
};

// All migrations-sql files, ordered by version (generated at build time).
const std::vector<EmbeddedMigration>& EmbeddedMigrations();

}  // namespace ferry::sql
