#pragma once
// The status lists SQL statements spell out, each defined once here. They are literals, not a
// subquery on migration_statuses, because PostgreSQL uses a partial index only when a query's
// predicate implies the index's, which it can prove for literals and never for a subquery
// (migrations_active_idx, 0002_live_migration.sql, is WHERE status NOT IN <terminal>).
// tests/pg/status_lists_pgtest proves each equals what the seed of migration_statuses says,
// that the partial index's list is the terminal one, and that the queries still use it.
// Macros, so that they concatenate into the constexpr statement texts.

// migration_statuses.is_terminal, every kind of move.
#define FERRY_SQL_TERMINAL_STATUSES \
  "('completed', 'confirmed', 'reverted', 'failed', 'error', 'cancelled')"

// A live migration's statuses with migration_statuses.api_in_progress: what Nova lists as in
// progress (2.23), and what holds a destination (inbound load, anti-affinity).
#define FERRY_SQL_LIVE_IN_PROGRESS_STATUSES "('queued', 'preparing', 'running', 'post-migrating')"

// The statuses in which a move's source runs a job that reports progress: a live migration's
// copy (running) and a cold move's disk copy (migrating). Progress ingest lands reports only then.
#define FERRY_SQL_JOB_STATUSES "('running', 'migrating')"

// migration_statuses.occupies_slot, every kind of move: past admission, holding its source's
// outbound and its destination's inbound slot.
#define FERRY_SQL_SLOT_STATUSES \
  "('preparing', 'running', 'post-migrating', 'pre-migrating', 'migrating')"

// migration_statuses.heads_to_destination, every kind of move: what counts towards a
// destination's inbound load and against server-group anti-affinity. Not an evacuation that is
// done: its server is placed on the destination already (0012).
#define FERRY_SQL_HEADS_TO_DESTINATION_STATUSES                                         \
  "('queued', 'preparing', 'running', 'post-migrating', 'pre-migrating', 'migrating', " \
  "'finished', 'confirming', 'reverting')"
