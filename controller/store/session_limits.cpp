#include "controller/store/session_limits.hpp"

#include <libpq-fe.h>

#include <stdexcept>
#include <utility>
#include <vector>

namespace ferry::controller::store {
namespace {

using Keywords = std::vector<std::pair<std::string, std::string>>;

// libpq parses both DSN forms; only keywords the string sets come back with a value.
Keywords ParseDsn(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (!options) {
    std::string why = error ? error : "out of memory";
    PQfreemem(error);
    throw std::invalid_argument("invalid database connection string: " + why);
  }
  Keywords out;
  for (auto* o = options; o->keyword; ++o) {
    if (o->val) out.emplace_back(o->keyword, o->val);
  }
  PQconninfoFree(options);
  return out;
}

std::string* Find(Keywords& kw, const std::string& key) {
  for (auto& [k, v] : kw) {
    if (k == key) return &v;
  }
  return nullptr;
}

void AddIfAbsent(Keywords& kw, const std::string& key, const std::string& value) {
  if (!Find(kw, key)) kw.emplace_back(key, value);
}

std::string Quoted(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// jit off: the controller's statements are short, and compiling one costs tens of ms whenever
// the planner's estimate passes jit_above_cost (a whole-fleet v_host_load read did: +50 ms).
std::string ServerOptions(const SessionLimits& l) {
  return "-c jit=off -c statement_timeout=" + std::to_string(l.statement_timeout.count()) +
         " -c lock_timeout=" + std::to_string(l.lock_timeout.count()) +
         " -c idle_in_transaction_session_timeout=" +
         std::to_string(l.idle_in_transaction_timeout.count()) +
         (l.generic_plans ? " -c plan_cache_mode=force_generic_plan" : "");
}

// What a read-only pool sets after the DSN's options, so that they win.
std::string PinnedOptions(const SessionLimits& l) {
  if (!l.read_only) return "";
  return "-c default_transaction_read_only=on -c statement_timeout=" +
         std::to_string(l.statement_timeout.count());
}

}  // namespace

std::string WithSessionLimits(const std::string& dsn, const SessionLimits& l) {
  Keywords kw = ParseDsn(dsn);
  AddIfAbsent(kw, "connect_timeout", std::to_string(l.connect_timeout_s));
  AddIfAbsent(kw, "keepalives", "1");
  AddIfAbsent(kw, "keepalives_idle", std::to_string(l.keepalives_idle_s));
  AddIfAbsent(kw, "keepalives_interval", std::to_string(l.keepalives_interval_s));
  AddIfAbsent(kw, "keepalives_count", std::to_string(l.keepalives_count));
  // Keepalives only probe an idle socket; with a request in flight the kernel retransmits for
  // tcp_retries2 instead. The same total bounds that case.
  AddIfAbsent(
      kw, "tcp_user_timeout",
      std::to_string(1000 * (l.keepalives_idle_s + l.keepalives_interval_s * l.keepalives_count)));
  // PostgreSQL applies -c settings in order, so the DSN's own come after ferry's and win, but
  // for a read-only pool's own (PinnedOptions), which come last.
  std::string options = ServerOptions(l);
  if (auto* dsn_options = Find(kw, "options")) options += " " + *dsn_options;
  if (const std::string pinned = PinnedOptions(l); !pinned.empty()) options += " " + pinned;
  if (auto* existing = Find(kw, "options")) {
    *existing = options;
  } else {
    kw.emplace_back("options", options);
  }
  std::string out;
  for (const auto& [k, v] : kw) out += (out.empty() ? "" : " ") + k + "=" + Quoted(v);
  return out;
}

}  // namespace ferry::controller::store
