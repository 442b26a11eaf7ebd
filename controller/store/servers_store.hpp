#pragma once
#include <optional>
#include <string>
#include <vector>

#include "controller/store/models.hpp"

namespace ferry::controller::store {

class Tx;

struct ServerFilter {
  std::optional<std::string> uuid;
  std::optional<std::string> host;
  std::optional<std::string> name_regex;  // Nova matches names as a regular expression
  std::optional<std::vector<std::string>> vm_states;
  std::optional<std::vector<std::string>> task_states;
  std::optional<std::string> project_id;
  std::optional<std::string> task_state_is;  // exact task state (for reconcilers)
  std::optional<TimePoint> changes_since;    // updated_at >= this
  std::optional<TimePoint> changes_before;   // updated_at <= this (2.66)
  std::optional<std::string> flavorid;       // the flavor's API id, as Nova's ?flavor=
  std::optional<std::string> marker;         // uuid: rows after this one
  int64_t limit = 1000;                      // Nova's osapi_max_limit default
  bool with_group = false;                   // fill Server::group_uuid (a show from 2.71)
};

// Newest first (created_at desc, id desc), as Nova lists servers.
std::vector<Server> ListServers(Tx& tx, const ServerFilter& filter);
std::optional<Server> FindServer(Tx& tx, const std::string& uuid, bool with_group = false);
// False if a marker was given and does not exist (Nova: 400 "marker not found").
bool ServerExists(Tx& tx, const std::string& uuid);
void InsertServer(Tx& tx, const Server& s);
// Writes what PUT /servers/{id} changes: the name and the attributes, as `s` holds them.
// Locks the server's row until the transaction ends (a read-modify-write of its fields);
// false when there is none (deleted meanwhile).
bool LockServer(Tx& tx, const std::string& uuid);
void UpdateServerUserFields(Tx& tx, const Server& s, TimePoint now);
// Compare-and-set of task_state: returns false (and changes nothing) unless the current
// task_state equals `expected` (nullopt = no task).
bool CasTaskState(Tx& tx, const std::string& uuid, const std::optional<std::string>& expected,
                  const std::optional<std::string>& next, TimePoint now);
void MarkServerActive(Tx& tx, const std::string& uuid, int power_state, TimePoint now);
void MarkServerError(Tx& tx, const std::string& uuid, const nlohmann::json& fault, TimePoint now);
void DeleteServerRow(Tx& tx, const std::string& uuid);

// An instance action the API asked for (Nova's "create", "delete"), as one action of one event
// under the request's id; os-instance-actions lists it, also after the server is gone (2.21).
struct ServerActionRecord {
  std::string instance_uuid;
  std::string request_id;
  std::string action;  // Nova's instance_actions name
  std::string event;   // Nova's event name for the step that ran
  bool error = false;
  std::optional<std::string> host;
  std::optional<std::string> details;  // the error's message
  std::string user_id;
  std::string project_id;
};
void RecordServerAction(Tx& tx, const ServerActionRecord& r, TimePoint at);

}  // namespace ferry::controller::store
