// The API's side of host drains: the plan from the database and the scheduler's view, the drain
// stored with its servers in one transaction (the host's service disabled in the same one), and
// the requests a running drain takes.
#include "controller/drains/service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/drains/plan_now.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::drains {
namespace {

// The plan as the API and the stored drain show it: the verdict and the predictions.
nlohmann::json PlanDocument(const Plan& plan) {
  nlohmann::json left = nlohmann::json::array();
  for (const auto& s : plan.servers) {
    if (!s.dest) left.push_back({{"server", s.uuid}, {"name", s.name}, {"reason", *s.reason}});
  }
  return {{"fits", plan.fits},
          {"left", left},
          {"bytes", plan.bytes},
          {"predicted_seconds", plan.predicted_seconds},
          {"starts_after_seconds", [&] {
             nlohmann::json out = nlohmann::json::object();
             for (const auto& s : plan.servers) out[s.uuid] = s.starts_after_seconds;
             return out;
           }()}};
}

}  // namespace

store::Drain Service::PlanOf(const DrainRequest& r) const {
  PlanScope scope;
  scope.host = r.host;
  scope.mode = r.mode;
  scope.target_hosts = r.target_hosts;
  scope.max_parallel = r.max_parallel;
  const auto [plan, request] = PlanNow(ctx_, scope);

  store::Drain d;
  d.host = r.host;
  d.mode = r.mode;
  d.status = "planned";
  d.max_parallel = r.max_parallel;
  d.target_hosts = r.target_hosts;
  d.deadline = r.deadline;
  d.idempotency_key = r.idempotency_key;
  d.user_id = r.user_id;
  d.project_id = r.project_id;
  d.created_at = d.updated_at = ctx_.clock.Now();
  d.plan = PlanDocument(plan);
  d.plan["host_down"] = request.host_down;
  d.plan["link_mibps"] = request.link_mibps;
  d.plan["lanes"] = request.max_parallel;  // max_parallel within the source's outbound slots
  for (const auto& p : plan.servers) {
    store::DrainServer s;
    s.server_uuid = p.uuid;
    s.name = p.name;
    s.position = p.position;
    s.kind = p.kind;
    s.planned_dest = p.dest;
    s.state = p.dest ? "pending" : "skipped";
    s.reason = p.reason;
    s.bytes = p.bytes;
    s.predicted_seconds = p.predicted_seconds;
    d.servers.push_back(std::move(s));
  }
  return d;
}

DrainAnswer Service::Request(const DrainRequest& r) {
  // A repeat (cron) attaches to what the first run started.
  auto existing = [&]() -> std::optional<store::Drain> {
    std::optional<store::Drain> d;
    ctx_.db.Transact([&](store::Tx& tx) {
      if (r.idempotency_key) d = store::FindDrainByIdempotencyKey(tx, *r.idempotency_key);
      if (d && d->host != r.host) {
        throw Error(Errc::kConflict, "Idempotency-Key " + *r.idempotency_key +
                                         " was already used for a drain of " + d->host);
      }
      if (!d) d = store::FindLiveDrainOfHost(tx, r.host);
    });
    return d;
  };
  if (!r.dry_run) {
    if (auto d = existing()) return {*d, false};
  }
  auto d = PlanOf(r);
  if (r.dry_run) return {d, false};
  d.uuid = NewUuid();
  d.status = "running";
  int64_t host_id = 0;
  try {
    ctx_.db.Transact([&](store::Tx& tx) {
      store::InsertDrain(tx, d);
      // The host takes no new servers or moves while it empties (Nova's disabled service).
      if (auto host = store::FindHostNamed(tx, r.host)) {
        host_id = host->id;
        store::ServiceUpdate u;
        u.disabled = true;
        u.disabled_reason = std::optional<std::string>("drain " + d.uuid);
        store::UpdateService(tx, host->id, u, ctx_.clock.Now());
      }
    });
  } catch (const Error& e) {
    // Lost a race with another request for the same host or key: attach to its drain.
    if (e.code() != Errc::kConflict) throw;
    if (auto other = existing()) return {*other, false};
    throw;
  }
  if (host_id) ctx_.hosts.MarkDirty(host_id);
  if (on_changed_) on_changed_();
  spdlog::info("drain started drain={} host={} mode={} servers={} fits={}", d.uuid, d.host, d.mode,
               d.servers.size(), d.plan.value("fits", false));
  return {d, true};
}

store::Drain Service::Get(const std::string& uuid) const {
  std::optional<store::Drain> d;
  ctx_.db.Transact([&](store::Tx& tx) { d = store::FindDrain(tx, uuid); });
  if (!d) throw Error(Errc::kNotFound, "Drain " + uuid + " could not be found.");
  return *d;
}

std::vector<store::Drain> Service::List() const {
  std::vector<store::Drain> out;
  ctx_.db.Transact([&](store::Tx& tx) { out = store::ListDrains(tx, 100); });
  return out;
}

store::Drain Service::Act(const std::string& uuid, const std::string& action) {
  std::vector<std::string> from;
  std::string to;
  if (action == "pause") {
    from = {"running"};
    to = "paused";
  } else if (action == "resume") {
    from = {"paused"};
    to = "running";
  } else if (action == "cancel") {
    from = {"running", "paused"};
    to = "cancelling";
  } else {
    throw Error(Errc::kBadRequest, "Unknown drain action " + action + ".");
  }
  bool changed = false;
  std::string status;
  ctx_.db.Transact([&](store::Tx& tx) {
    auto d = store::FindDrain(tx, uuid);
    if (!d) throw Error(Errc::kNotFound, "Drain " + uuid + " could not be found.");
    status = d->status;
    // From the status read (changed meanwhile: a conflict, as if read after).
    changed = std::find(from.begin(), from.end(), status) != from.end() &&
              store::ChangeDrainStatus(tx, uuid, {status}, to);
  });
  if (!changed) {
    throw Error(Errc::kConflict,
                "Cannot " + action + " drain " + uuid + " while it is " + status + ".");
  }
  spdlog::info("drain {} {} -> {} ({})", uuid, status, to, action);
  if (on_transition_) on_transition_({Subject::kDrain, status, to, action}, uuid);
  if (on_changed_) on_changed_();
  return Get(uuid);
}

}  // namespace ferry::controller::drains
