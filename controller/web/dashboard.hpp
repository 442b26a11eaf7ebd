#pragma once
// The built-in dashboard at /dashboard: its page and assets (compiled in), login and logout,
// and the JSON it polls under /dashboard/api/, read from the views of 0014_dashboard_views.sql.
#include "common/tokens.hpp"
#include "controller/api/api_server.hpp"
#include "controller/web/count_refresher.hpp"
#include "controller/web/sessions.hpp"

namespace ferry::controller::store {
class Database;
}

namespace ferry::controller::web {

struct DashboardDeps {
  store::Database& db;  // store::DashboardReadPool
  // store::DashboardKeptPlanPool: the pages of hosts and drains only.
  store::Database& kept_plan_db;
  // Who may log in: the API's authenticator (the token file or Keystone).
  const Authenticator& users;
  // The token file: with Keystone, an agent's token is refused without being sent there.
  const TokenTable& agents;
  Sessions& sessions;  // bound to `agents` (the token file) by RegisterDashboardRoutes
  // The tiles' expensive counts, read behind the requests by the caller's periodic task.
  CountRefresher& counts;
};

// Registers the routes and makes `api` accept the dashboard's session cookies.
void RegisterDashboardRoutes(api::ApiServer& api, const DashboardDeps& deps);

}  // namespace ferry::controller::web
