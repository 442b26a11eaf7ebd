#pragma once
// Time limits every controller connection to PostgreSQL carries, merged into the operator's
// libpq connection string. Without them a black-holed server stalls a connection for about
// 15 minutes (Linux tcp_retries2), and one slow or stuck statement holds a pooled connection
// for as long as it runs.
#include <chrono>
#include <string>

namespace ferry::controller::store {

struct SessionLimits {
  // 5 s: PostgreSQL on the management network answers a connect in milliseconds; a controller
  // that cannot connect within 5 s answers 503 rather than hold an API thread.
  int connect_timeout_s = 5;
  // 10 s idle, then 3 probes 5 s apart: a dead server or path is noticed within ~25 s, well
  // inside Nova's service_down_time (60 s), instead of after tcp_retries2 (~15 min).
  int keepalives_idle_s = 10;
  int keepalives_interval_s = 5;
  int keepalives_count = 3;
  // 10 s: ferry's statements take milliseconds (tests/bench measure them), so a statement still
  // running after 10 s is stuck; cancelling it frees its pooled connection.
  std::chrono::milliseconds statement_timeout{10'000};
  // 5 s: row locks are held by short transactions only; a longer wait means a stuck holder.
  std::chrono::milliseconds lock_timeout{5'000};
  // 60 s: a transaction idle that long belongs to a stalled controller (SIGSTOP, a hung agent
  // call); PostgreSQL ends the session and releases its row locks. Above the agents' 30 s
  // command timeout so no live request is cut.
  std::chrono::milliseconds idle_in_transaction_timeout{60'000};
  // A pool that only reads (the dashboard's): every transaction read-only, so a read outside a
  // transaction block (Database::ReadOneStatement) is read-only too. Its read-only mode and its
  // statement timeout are the pool's own: they win over the DSN's options (a DSN that disables
  // statement timeouts for the controller does not unbound the dashboard's reads).
  bool read_only = false;
  // Every statement keeps its generic plan (plan_cache_mode=force_generic_plan), unnamed ones
  // too (Tx::ExecForValues would no longer be planned for its values): for a pool whose
  // statements all plan well without their values. Left to PostgreSQL, a statement whose
  // generic plan is estimated a little dearer than its custom ones is planned again on every
  // run (the dashboard's page of hosts: 2 ms of 5).
  bool generic_plans = false;
};

// `dsn` (keyword=value or URI form) with the limits added: keywords the DSN already sets are
// kept as the operator wrote them; the limits go into `options` before the DSN's own `-c`
// settings, so a setting in the DSN wins. Throws std::invalid_argument for an unparsable DSN.
std::string WithSessionLimits(const std::string& dsn, const SessionLimits& limits);

}  // namespace ferry::controller::store
