#pragma once
// Applies migrations-sql/NNNN_*.sql (compiled into the binary) in order, each in its own
// transaction, and records a SHA-256 of every applied file in schema_migrations. A landed file
// that was edited afterwards is refused: the database and the code would disagree silently.
#include <string>
#include <vector>

namespace ferry::controller::store {

struct SchemaStatus {
  std::vector<std::string> applied;  // names, in order
  std::vector<std::string> pending;  // in the binary, not in the database
  std::vector<std::string> edited;   // applied, but the binary's text has another checksum
  std::vector<std::string> unknown;  // in the database, not in the binary (newer ferry ran)
};

SchemaStatus ReadSchemaStatus(const std::string& dsn);
// Applies every pending migration; throws ferry::Error(kConflict) if any file was edited.
// Returns the names applied now.
std::vector<std::string> UpgradeSchema(const std::string& dsn);
// Throws ferry::Error with a message naming the fix unless the schema is exactly current.
void RequireCurrentSchema(const std::string& dsn);

}  // namespace ferry::controller::store
