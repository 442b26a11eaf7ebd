#pragma once
// Progress ingest's side of the store: reports as the columns of the one statement that
// applies a whole batch (see live_migrations_store.hpp, ApplyProgress, for what lands), and the
// writer's own connection that sends that statement.
#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "api/wire/live_migration_messages.hpp"
#include "controller/store/moves_store.hpp"

namespace ferry::controller::store {

class Tx;
class PooledConnection;

// Reports in the statement's parameter form: one PostgreSQL array literal per column, appended
// to report by report. An API thread formats its own post's reports (posts in parallel, outside
// any lock); the writer then only concatenates the posts of a batch (Append), so the single
// writer thread, which every post waits on, does no per-field work.
class ProgressRows {
 public:
  ProgressRows();
  void Add(const std::string& host, const wire::LiveMigrationJob& job);
  void Append(const ProgressRows& other);
  size_t size() const { return rows_; }
  bool empty() const { return rows_ == 0; }
  void clear();

  static constexpr size_t kColumns = 17;
  // Finished literals ("{...}"), in the statement's parameter order.
  std::array<std::string, kColumns> Literals() const;

 private:
  std::array<std::string, kColumns> cols_;  // elements only, comma separated, no braces
  size_t rows_ = 0;
};

// True for the 36-character textual form PostgreSQL's uuid accepts from agents. A report with
// anything else is refused at the endpoint: inside a batch it would fail the statement, and with
// it every other agent's reports in the same batch.
bool IsUuidText(const std::string& s);

// True if `s` holds a C0 control character or DEL (line breaks and tabs allowed on request).
// A NUL cannot reach PostgreSQL at all (libpq text ends there): inside a batch it fails the
// statement, and with it every other agent's reports, so posts holding one are refused.
bool HasControlCharacters(const std::string& s, bool allow_line_breaks = false);

// Applies the rows in one statement inside tx. Returns rows updated.
int ApplyProgressRows(Tx& tx, const ProgressRows& rows);

// The progress writer's own connection (not the pool's: the writer holds it for good, and API
// requests never queue behind it). A batch is one statement sent in autocommit mode, which
// PostgreSQL runs as an implicit transaction: atomic, and committed (flushed, with the default
// synchronous_commit) before the result comes back. That is one round trip per batch where
// BEGIN, the statement and COMMIT were three.
class ProgressWriter {
 public:
  explicit ProgressWriter(std::string dsn);
  ~ProgressWriter();
  ProgressWriter(const ProgressWriter&) = delete;
  ProgressWriter& operator=(const ProgressWriter&) = delete;

  // Returns rows updated; `ended` (if given) receives the uuids of updated migrations whose job
  // ended (state other than running). Throws ferry::Error (kUnavailable) on any failure; the
  // connection is then dropped and the next Write opens a new one.
  int Write(const ProgressRows& rows, std::vector<MoveRef>* ended = nullptr);

 private:
  std::string dsn_;
  std::unique_ptr<PooledConnection> conn_;
};

}  // namespace ferry::controller::store
