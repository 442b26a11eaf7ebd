#pragma once
// A plan of draining a host made now, from the database and the scheduler's view of the
// hosts: the drain's plan before it starts, and a server's new destination when its planned
// one failed (the same filters, target_hosts and hosts to avoid as the plan itself had).
#include <optional>
#include <string>
#include <vector>

#include "controller/drains/context.hpp"
#include "controller/drains/planner.hpp"

namespace ferry::controller::drains {

struct PlanScope {
  std::string host;
  std::string mode = "auto";
  std::vector<std::string> target_hosts;
  int max_parallel = 2;
  std::optional<std::string> only_server;  // one server's placement (a retry's), else them all
  std::vector<std::string> also_avoid;     // e.g. where its earlier moves failed
  // A new drain's target_hosts must all exist (400 otherwise); a retry's may have been removed
  // since, and only those left are destinations.
  bool targets_must_exist = true;
};

// Throws kNotFound for an unknown host, kBadRequest for an unknown target host. The request the
// plan was made with is returned beside it (host_down, the rates it predicted with).
struct PlanMade {
  Plan plan;
  PlanRequest request;
};
PlanMade PlanNow(const Context& ctx, const PlanScope& scope);

}  // namespace ferry::controller::drains
