#pragma once
// Progress reports from agents, written to PostgreSQL in batches: every report that arrives
// while a write is in flight joins the next one, so N concurrent posts cost one statement
// (group commit) instead of N updates, and no NOTIFY is sent per row. A post is answered only
// once its reports are committed, so an agent that got 2xx never needs to send them again.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/wire/live_migration_messages.hpp"
#include "controller/store/database.hpp"

namespace ferry::controller::live_migration {

class ProgressIngest {
 public:
  // on_finished: called (outside any lock) with the uuid of every migration whose job ended.
  ProgressIngest(store::Database& db, std::function<void(const std::string&)> on_finished);
  ~ProgressIngest();

  void Start();
  void Stop();

  // Blocks until the batch is committed (or throws what the write threw).
  void Submit(const wire::MigrationProgressBatch& batch);

  uint64_t statements() const;  // writes issued so far (for tests and benchmarks)

 private:
  struct Pending {
    std::string host;
    std::vector<wire::LiveMigrationJob> reports;
  };
  void WriterLoop();

  store::Database& db_;
  std::function<void(const std::string&)> on_finished_;
  mutable std::mutex mu_;
  // Two: a post wakes only the writer, and a finished write wakes only the posts waiting on it
  // (one shared variable made every post wake every waiting post: a thundering herd).
  std::condition_variable work_cv_;  // the writer: next_ has reports (or stop)
  std::condition_variable done_cv_;  // posts: done_generation_ moved (or stop)
  std::vector<Pending> next_;           // joins the next write
  uint64_t next_generation_ = 1;        // generation of the write `next_` will become
  uint64_t done_generation_ = 0;        // last generation committed or failed
  std::string failure_;                 // failure of done_generation_, "" on success
  uint64_t statements_ = 0;
  bool stop_ = false;
  std::thread writer_;
};

}  // namespace ferry::controller::live_migration
