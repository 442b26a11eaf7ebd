#pragma once
// How a server looks in Nova's API at a given microversion, and the mapping between Nova's
// API `status` and ferry's vm_state / task_state.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controller/api/api_server.hpp"
#include "controller/store/models.hpp"

namespace ferry::controller::api {

std::string ServerStatus(const store::Server& s);
nlohmann::json ServerSummary(const Request& req, const store::Server& s);
nlohmann::json ServerDetail(const Request& req, const store::Server& s);

struct StatusFilter {
  std::vector<std::string> vm_states;
  std::optional<std::vector<std::string>> task_states;
};
// nullopt for a status no server can have (the list is then empty, as in Nova).
std::optional<StatusFilter> FilterForStatus(const std::string& status);

}  // namespace ferry::controller::api
