#include "controller/web/dashboard.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <initializer_list>
#include <memory>
#include <set>

#include "common/errors.hpp"
#include "common/http/message.hpp"
#include "common/http/url.hpp"
#include "common/uuid.hpp"
#include "controller/store/dashboard_store.hpp"
#include "controller/store/database.hpp"
#include "controller/web/assets.hpp"

namespace ferry::controller::web {
namespace {

using api::Access;
using api::Request;
using api::Response;
using nlohmann::json;

// Row bounds of each answer. The 100 oldest moves in flight (store::kDashboardMovesPage, a page
// as Nova's lists): a stuck move is among the oldest; the rest show as counts.
// 50 history rows by default, 200 at most: one screen, and a filter narrows the rest.
constexpr int kHistoryDefault = 50;
constexpr int kHistoryMax = 200;
// 500 events per move: a move makes about ten; retries and re-plans add a few each.
constexpr int kEventsLimit = 500;
// Hosts come in pages by name: 100 by default, 500 at most (each row sums its host's claims and
// moves; a page costs what its hosts hold, never the whole cloud).
constexpr int kHostsDefault = 100;
constexpr int kHostsMax = 500;
// 20 drains (the live ones first) with 500 servers of each plan: a host holds fewer.
constexpr int kDrainsLimit = 20;
constexpr int kDrainPlanLimit = 500;
// 255: Nova's host and server name columns.
constexpr size_t kMaxHostBytes = 255;
// 8 KiB: a Keystone token (JWS) is under 1 KiB, the token file's are ours.
constexpr size_t kMaxTokenBytes = 8192;

// 24 h of history unless `since` says otherwise, 31 days at most per read: every read is a
// bounded walk (an admin's of migrations_finished_idx, a member's of their servers' moves).
constexpr double kHistoryDefaultSpan = 24 * 3600;
constexpr double kHistoryMaxSpan = 31 * 24 * 3600;

// Fields a member (or reader) never sees: where things run is the cloud's business (Nova's
// policy shows hosts to admins only), and so are internal errors and drains, who asked for a
// move (most often an admin: their project and user id) and the request that did.
constexpr const char* kAdminOnlyFields[] = {
    "source_host", "dest_host", "lease_owner", "lease_expired", "step_failures", "last_step_error",
    "drain_uuid",  "reason",    "actor",       "project_id",    "user_id",       "request_id"};

// PostgreSQL's JSON text, parsed: what it cannot be is the server's fault, not the request's.
json ParseOurs(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw Error(Errc::kInternal, std::string("the database's JSON did not parse: ") + e.what());
  }
}

// JSON text of a value; bytes that are not UTF-8 are replaced, not an exception.
std::string Text(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Rows as the answer carries them (a JSON array's text): an admin's as PostgreSQL wrote them,
// never parsed (a page of 100 moves is 90 KB, which parsing and printing again costs 3 ms); a
// member's without the fields they may not see.
std::string RowsFor(const Request& req, std::string rows) {
  if (req.IsAdmin()) return rows;
  json parsed = ParseOurs(rows);
  for (auto& row : parsed) {
    for (const char* key : kAdminOnlyFields) row.erase(key);
  }
  return Text(parsed);
}

std::optional<std::string> ProjectOf(const Request& req) {
  if (req.IsAdmin()) return std::nullopt;
  return req.principal.project_id;
}

void RequireAdmin(const Request& req) {
  if (!req.IsAdmin()) {
    throw Error(Errc::kForbidden, "Policy doesn't allow this operation to be performed.");
  }
}

// Unknown query parameters are refused: a typo in a filter must not quietly show everything.
void OnlyQuery(const Request& req, std::initializer_list<const char*> allowed) {
  for (const auto& [key, value] : req.query) {
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) throw Error(Errc::kBadRequest, "Invalid filter: " + key);
  }
}

std::optional<std::string> OneOf(const Request& req, const char* key,
                                 std::initializer_list<const char*> values) {
  auto v = req.Query(key);
  if (!v || v->empty()) return std::nullopt;
  for (const char* allowed : values) {
    if (*v == allowed) return v;
  }
  throw Error(Errc::kBadRequest, std::string("Invalid ") + key + ": " + *v);
}

// Epoch seconds, as the page sends them.
std::optional<double> EpochParam(const Request& req, const char* key) {
  auto v = req.Query(key);
  if (!v || v->empty()) return std::nullopt;
  size_t used = 0;
  double d = 0;
  try {
    d = std::stod(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  // 1e11 s: the year 5138, far past any timestamp PostgreSQL gets here.
  if (used != v->size() || !std::isfinite(d) || d < 0 || d > 1e11) {
    throw Error(Errc::kBadRequest, std::string("Invalid ") + key + ": seconds since the epoch");
  }
  return d;
}

int LimitParam(const Request& req, int def, int max) {
  auto v = req.Query("limit");
  if (!v) return def;
  if (v->empty() || v->size() > 4 || v->find_first_not_of("0123456789") != std::string::npos) {
    throw Error(Errc::kBadRequest, "Invalid limit: 1 to " + std::to_string(max));
  }
  int n = std::stoi(*v);
  if (n < 1 || n > max)
    throw Error(Errc::kBadRequest, "Invalid limit: 1 to " + std::to_string(max));
  return n;
}

std::optional<std::string> HostParam(const Request& req) {
  auto v = req.Query("host");
  if (!v || v->empty()) return std::nullopt;
  if (v->size() > kMaxHostBytes ||
      v->find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
          std::string::npos) {
    throw Error(Errc::kBadRequest, "Invalid host: " + *v);
  }
  return v;
}

// A hosts page's `after`: the previous page's last host as the page got it. Any name a host may
// have (1 to 255 bytes, hosts_name_check) but no control character; it is only ever a bound
// parameter compared with names.
std::optional<std::string> AfterParam(const Request& req) {
  auto v = req.Query("after");
  if (!v) return std::nullopt;
  const bool control = std::any_of(v->begin(), v->end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (v->empty() || v->size() > kMaxHostBytes || control) {
    throw Error(Errc::kBadRequest, "Invalid after: a host name");
  }
  return v;
}

Response Json(json body) {
  Response r;
  r.body = std::move(body);
  return r;
}

// An answer put together from JSON texts: {"<key>": <text>, ...}. Keys are this file's own
// names; each text is a JSON value, as PostgreSQL or json::dump wrote it.
Response JsonOf(std::initializer_list<std::pair<const char*, std::string>> fields) {
  Response r;
  r.raw_body = "{";
  for (const auto& [key, text] : fields) {
    if (r.raw_body.size() > 1) r.raw_body += ',';
    r.raw_body += '"';
    r.raw_body += key;
    r.raw_body += "\":";
    r.raw_body += text;
  }
  r.raw_body += '}';
  r.content_type = "application/json";
  return r;
}

// One statement of the dashboard's read-only pool, outside a transaction block: one round trip
// where a transaction makes three. A page that shows two reads (rows and their tiles) makes two,
// each consistent in itself.
template <typename Result>
Result Read(store::Database& db, const std::function<Result(store::Tx&)>& fn) {
  Result out;
  db.ReadOneStatement([&](store::Tx& tx) { out = fn(tx); });
  return out;
}
std::string ReadText(store::Database& db, const std::function<std::string(store::Tx&)>& fn) {
  return Read<std::string>(db, fn);
}

// A POST from another site's page is refused: SameSite=Strict keeps the cookie off it already,
// and this refuses a login into the attacker's session (login CSRF) too.
// Behind a proxy that rewrites Host (TLS terminated in front), the browser's origin is the
// proxy's host, which the proxy sends as X-Forwarded-Host: that one is accepted too. Only the
// host:port is compared, not the scheme (the proxy speaks https, the controller http).
void RequireSameOrigin(const Request& req) {
  auto origin = req.http->Header("Origin");
  if (!origin) return;  // not a browser, or a same-origin form in an old one
  auto scheme_end = origin->find("://");
  if (scheme_end == std::string::npos) {
    throw Error(Errc::kForbidden, "Cross-origin request refused.");
  }
  const std::string from = origin->substr(scheme_end + 3);
  auto host = req.http->Header("Host").value_or("");
  if (!host.empty() && from == host) return;
  if (auto forwarded = req.http->Header("X-Forwarded-Host")) {
    // The first proxy's, when a chain of proxies appended theirs.
    std::string first = forwarded->substr(0, forwarded->find(','));
    while (!first.empty() && first.back() == ' ') first.pop_back();
    while (!first.empty() && first.front() == ' ') first.erase(0, 1);
    if (!first.empty() && from == first) return;
  }
  throw Error(Errc::kForbidden, "Cross-origin request refused.");
}

// The token of a login body: a form (token=...) or JSON ({"token": "..."}).
std::string TokenOf(const Request& req) {
  const auto type = req.http->Header("Content-Type").value_or("");
  std::optional<std::string> token;
  if (type.rfind("application/x-www-form-urlencoded", 0) == 0) {
    http::QueryParams form;
    http::ParseQuery(req.raw_body, form);
    if (auto it = form.find("token"); it != form.end()) token = it->second;
  } else if (type.rfind("application/json", 0) == 0) {
    json body;
    try {
      body = json::parse(req.raw_body);
    } catch (const json::parse_error&) {
      throw Error(Errc::kBadRequest, "Malformed request body");
    }
    if (body.is_object() && body.contains("token") && body["token"].is_string()) {
      token = body["token"].get<std::string>();
    }
  } else {
    throw Error(Errc::kBadRequest,
                "Send the token as application/x-www-form-urlencoded or application/json.");
  }
  if (!token || token->empty()) throw Error(Errc::kBadRequest, "A token is required.");
  if (token->size() > kMaxTokenBytes) throw Error(Errc::kBadRequest, "The token is too long.");
  for (unsigned char c : *token) {
    if (c < 0x21 || c > 0x7e) throw Error(Errc::kBadRequest, "The token holds invalid characters.");
  }
  return *token;
}

bool MayLogIn(Role role) {
  return role == Role::kAdmin || role == Role::kMember || role == Role::kReader;
}

std::string RoleText(Role role) {
  return role == Role::kAdmin ? "admin" : role == Role::kMember ? "member" : "reader";
}

void RegisterAssets(api::ApiServer& api) {
  for (const auto& asset : EmbeddedAssets()) {
    const bool page = asset.name == "index.html";
    // The page at /dashboard (and /dashboard/), the rest under /dashboard/static/.
    const std::string pattern =
        page ? "/dashboard/?" : "/dashboard/static/" + std::string(asset.name);
    api.Route("GET", pattern, Access::kPublic, [&asset, page](Request&) {
      Response r;
      r.raw_body = std::string(asset.body);
      r.content_type = std::string(asset.content_type);
      // 5 min for the CSS and script: a controller upgrade reaches open pages that soon; the
      // page itself is never cached, so a reload always gets the new asset list.
      r.headers.emplace_back("Cache-Control", page ? "no-store" : "private, max-age=300");
      return r;
    });
  }
}

// A refused login, at info with the peer's address (never the token): a guessing browser shows.
[[noreturn]] void RefuseLogin(const Request& req, Errc code, const std::string& reason,
                              const std::string& message) {
  spdlog::info("dashboard login refused: {} peer={} request_id={}", reason, req.http->remote_addr,
               req.request_id);
  throw Error(code, message);
}

}  // namespace

void RegisterDashboardRoutes(api::ApiServer& api, const DashboardDeps& deps) {
  const bool keystone = &deps.users != static_cast<const Authenticator*>(&deps.agents);
  deps.sessions.BindTokens(deps.agents, keystone);
  api.SetSessions(&deps.sessions);
  RegisterAssets(api);
  auto& db = deps.db;
  auto& kept = deps.kept_plan_db;

  api.Route(
      "POST", "/dashboard/login", Access::kPublic,
      [deps, keystone](Request& req) {
        try {
          RequireSameOrigin(req);
        } catch (const Error&) {
          RefuseLogin(req, Errc::kForbidden,
                      "cross-origin (Origin " + req.http->Header("Origin").value_or("") + ")",
                      "Cross-origin request refused.");
        }
        const std::string token = TokenOf(req);
        // An agent's token never reaches Keystone (whose logs would keep it), nor logs in.
        std::optional<Principal> who;
        if (!keystone || !deps.agents.Find(token)) who = deps.users.Authenticate(token);
        if (!who) {
          RefuseLogin(req, Errc::kUnauthorized, "unknown token",
                      "The request you have made requires authentication.");
        }
        if (!MayLogIn(who->role)) {
          RefuseLogin(req, Errc::kForbidden, "a role that may not log in",
                      "This role cannot use the dashboard.");
        }
        Response r;
        r.headers.emplace_back("Set-Cookie", deps.sessions.Create(*who, token, *req.http));
        r.body = {
            {"user", who->name}, {"project_id", who->project_id}, {"role", RoleText(who->role)}};
        return r;
      },
      api::ApiServer::Body::kRaw);

  api.Route("POST", "/dashboard/logout", Access::kSession, [deps](Request& req) {
    RequireSameOrigin(req);
    Response r;
    r.status = 204;
    r.headers.emplace_back("Set-Cookie", deps.sessions.End(*req.http));
    return r;
  });

  api.Route("GET", "/dashboard/api/me", Access::kSession, [deps](Request& req) {
    OnlyQuery(req, {});
    return Json({{"user", req.principal.name},
                 {"user_id", req.principal.user_id},
                 {"project_id", req.principal.project_id},
                 {"role", RoleText(req.principal.role)},
                 {"admin", req.IsAdmin()},
                 {"idle_timeout_seconds", deps.sessions.options().idle.count()},
                 {"session_lifetime_seconds", deps.sessions.options().lifetime.count()}});
  });

  // The live moves' tiles count every move in flight. An admin's counts read each such move's
  // row, which progress reports keep rewriting (5-10 ms at 10,000 moves under 2,000 reports/s):
  // read every 2 s (the page's poll) while admins look, behind their polls and once for all of
  // them. A member's counts, of their project's servers only, are read with their page.
  // A failed count is tried again after 10 s (its statement timeout is 2 s, the dashboard's
  // pool two connections); counts older than 30 s show as unknown.
  auto move_counts = deps.counts.Add(
      {std::chrono::seconds(2), std::chrono::seconds(10), std::chrono::seconds(30)},
      [&db] {
        return ParseOurs(
            ReadText(db, [](store::Tx& tx) { return store::DashboardMovesCounts(tx, {}); }));
      },
      [](const std::string& why) {
        spdlog::warn("dashboard: counting the moves in flight failed: {}", why);
      });
  api.Route("GET", "/dashboard/api/moves", Access::kSession, [&db, move_counts](Request& req) {
    OnlyQuery(req, {});
    const auto project = ProjectOf(req);
    std::string moves =
        ReadText(db, [&](store::Tx& tx) { return store::DashboardMovesInProgress(tx, project); });
    std::string counts;
    if (project) {
      counts =
          ReadText(db, [&](store::Tx& tx) { return store::DashboardMovesCounts(tx, project); });
    } else {
      json shared = move_counts->Get();
      if (shared.is_null()) shared = {{"in_progress", nullptr}, {"queued", nullptr}};
      counts = Text(shared);
    }
    return JsonOf({{"moves", RowsFor(req, std::move(moves))},
                   {"counts", std::move(counts)},
                   {"limit", std::to_string(store::kDashboardMovesPage)}});
  });

  api.Route("GET", "/dashboard/api/history", Access::kSession, [&db](Request& req) {
    OnlyQuery(req, {"kind", "outcome", "host", "since", "until", "limit"});
    store::DashboardHistoryFilter f;
    f.project = ProjectOf(req);
    f.kind = OneOf(req, "kind", {"live-migration", "migration", "resize", "evacuation"});
    f.outcome = OneOf(req, "outcome", {"succeeded", "failed", "cancelled", "reverted"});
    f.host = HostParam(req);
    if (f.host) RequireAdmin(req);  // members never see hosts, nor filter by them
    const auto since = EpochParam(req, "since");
    const auto until = EpochParam(req, "until");
    if (since && until && *until <= *since) {
      throw Error(Errc::kBadRequest, "until must be after since");
    }
    // until: now unless given; since: 24 h before it unless given, 31 days before it at most.
    f.until =
        until ? *until
              : std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                        .count() +
                    1;
    f.since = std::max(since.value_or(f.until - kHistoryDefaultSpan), f.until - kHistoryMaxSpan);
    f.limit = LimitParam(req, kHistoryDefault, kHistoryMax);
    auto rows = ReadText(db, [&](store::Tx& tx) { return store::DashboardHistory(tx, f); });
    return JsonOf({{"history", RowsFor(req, std::move(rows))},
                   {"limit", std::to_string(f.limit)},
                   {"since", Text(f.since)},
                   {"until", Text(f.until)}});
  });

  api.Route("GET", "/dashboard/api/moves/([^/]+)/events", Access::kSession, [&db](Request& req) {
    OnlyQuery(req, {});
    const std::string& uuid = req.params[0];
    if (!IsUuid(uuid)) throw Error(Errc::kBadRequest, "Invalid migration id: " + uuid);
    auto rows = ReadText(db, [&](store::Tx& tx) {
      return store::DashboardEvents(tx, uuid, ProjectOf(req), kEventsLimit);
    });
    // Another project's move is as unknown as one that does not exist.
    if (rows == "[]") throw Error(Errc::kNotFound, "Migration " + uuid + " could not be found.");
    return JsonOf({{"events", RowsFor(req, std::move(rows))}});
  });

  // The orphaned claims' tile: counting them reads every claim (over 100 ms with 10,000 moves in
  // flight), so the count is at most 60 s old, as the metric's; a failed count is retried after
  // 10 s, and after 5 min of failures the tile shows it as unknown.
  auto orphans = deps.counts.Add(
      {std::chrono::seconds(60), std::chrono::seconds(10), std::chrono::minutes(5)},
      [&db] {
        return Read<json>(db,
                          [](store::Tx& tx) { return json(store::DashboardOrphanedClaims(tx)); });
      },
      [](const std::string& why) {
        spdlog::warn("dashboard: counting orphaned claims failed: {}", why);
      });
  // ?after=<host> continues after that host; ?problems=1 keeps hosts down, disabled or draining.
  // "next" is the after= of the following page, null on the last one.
  api.Route("GET", "/dashboard/api/hosts", Access::kSession, [&kept, orphans](Request& req) {
    RequireAdmin(req);
    OnlyQuery(req, {"after", "problems", "limit"});
    const auto after = AfterParam(req);
    const auto problems = OneOf(req, "problems", {"0", "1"});
    const bool problems_only = problems && *problems == "1";
    const int limit = LimitParam(req, kHostsDefault, kHostsMax);
    auto page = Read<store::DashboardHostsPage>(kept, [&](store::Tx& tx) {
      return store::DashboardHosts(tx, after, problems_only, limit);
    });
    json summary = ParseOurs(page.summary);
    summary["orphaned_claims"] = orphans->Get();
    return JsonOf({{"hosts", std::move(page.rows)},
                   {"summary", Text(summary)},
                   {"next", Text(page.next ? json(*page.next) : json(nullptr))},
                   {"limit", std::to_string(limit)}});
  });

  api.Route("GET", "/dashboard/api/drains", Access::kSession, [&kept](Request& req) {
    RequireAdmin(req);
    OnlyQuery(req, {});
    auto rows = ReadText(kept, [](store::Tx& tx) {
      return store::DashboardDrains(tx, kDrainsLimit, kDrainPlanLimit);
    });
    return JsonOf({{"drains", std::move(rows)}});
  });
}

}  // namespace ferry::controller::web
