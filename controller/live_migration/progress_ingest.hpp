#pragma once
// Progress reports from agents, written to PostgreSQL in batches: every report that arrives
// while a write is in flight joins the next one, so N concurrent posts cost one statement
// (group commit) instead of N updates, and no NOTIFY is sent per row. A post is answered only
// once its reports are committed, so an agent that got 2xx never needs to send them again.
// A post's reports are formatted into the statement's columns by the API thread that received
// it (posts in parallel); a writer thread only swaps the accumulated columns out and sends them
// on a connection of its own (store::ProgressWriter).
//
// Writers: kWriters, each taking whatever has accumulated when it is free. With one, the whole
// ingest is one PostgreSQL backend executing one statement at a time while the posts wait: the
// throughput was that backend's (one core), and a post waited for the write in flight before
// its own began. A second statement in flight overlaps one batch's execution with the other's
// commit flush and uses a second core. Two statements may hold reports of one migration (only
// when an agent re-sends before its earlier post was answered): the row lock orders them, and
// the store's "never older than what the row holds" check, re-evaluated on the locked row,
// keeps the newest sample whichever commits last.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/wire/live_migration_messages.hpp"
#include "controller/store/database.hpp"
#include "controller/store/progress_store.hpp"

namespace ferry::controller::live_migration {

class ProgressIngest {
 public:
  // 10 s: a write takes milliseconds and the writers' statements are cut at the database's
  // statement_timeout (10 s); a post still unanswered by then gets 503 and its agent posts
  // again, instead of holding an API thread for as long as a stuck writer connection lasts.
  static constexpr std::chrono::milliseconds kSubmitTimeout{10'000};

  // on_finished: called (outside any lock) with the uuid of every migration whose job ended in
  // a report that landed.
  ProgressIngest(store::Database& db, std::function<void(const store::MoveRef&)> on_finished,
                 int writers = kWriters, std::chrono::milliseconds submit_timeout = kSubmitTimeout);
  ~ProgressIngest();

  void Start();
  void Stop();

  // One agent's post, ready for the statement.
  struct Post {
    store::ProgressRows rows;
  };
  // Checks and formats a post's reports; throws kBadRequest for a report no statement could
  // take (a migration uuid that is no uuid, a control character such as NUL in a text field),
  // so one agent's bad report never fails a batch that holds other agents' reports.
  static Post Prepare(const wire::MigrationProgressBatch& batch);

  // One report as the statement can take it, whoever got it (a post, or a step that asked the
  // source agent itself): numbers clamped to what the columns and the statement's arithmetic
  // hold, an unknown phase dropped (the last one stays; a newer agent may know more phases).
  // Returns why it cannot be taken at all (a uuid that is no uuid, a control character, an
  // unknown job state, a sample time that is no time), else nullopt.
  static std::optional<std::string> Normalize(wire::LiveMigrationJob& r);

  // Blocks until the post is committed (or throws what the write threw); kUnavailable when that
  // takes longer than the submit timeout.
  void Submit(Post post);
  void Submit(const wire::MigrationProgressBatch& batch) { Submit(Prepare(batch)); }

  uint64_t statements() const;  // writes issued so far (for tests and benchmarks)

 private:
  // 2: see the class comment; more only splits the same posts into smaller statements.
  static constexpr int kWriters = 2;
  void WriterLoop(store::ProgressWriter& db);

  std::vector<std::unique_ptr<store::ProgressWriter>> writer_dbs_;
  std::function<void(const store::MoveRef&)> on_finished_;
  std::chrono::milliseconds submit_timeout_;
  // One write and the posts it answers. The posts wait on the generation's own mutex and
  // condition variable (a bounded wait): a finished write wakes exactly its own posts, and they
  // return without taking mu_ again (waking them through mu_'s condition variable made 48 posts
  // queue on the mutex the writers need).
  struct Generation {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;    // under mu; set once written (or failed)
    std::string failure;  // "" on success; set before done
  };
  void Finish(Generation& g, std::string failure);

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // the writer: next_ has reports (or stop)
  Post next_;                        // joins the next write
  std::shared_ptr<Generation> next_generation_ = std::make_shared<Generation>();  // next_'s
  uint64_t statements_ = 0;
  bool stop_ = false;
  std::vector<std::thread> writers_;
};

}  // namespace ferry::controller::live_migration
