#include "controller/api/server_lookup.hpp"

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/store/servers_store.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::api {

std::optional<store::Server> FindVisibleServer(store::Tx& tx, const Request& req,
                                               const std::string& uuid, bool with_group) {
  if (!IsUuid(uuid)) return std::nullopt;
  auto s = store::FindServer(tx, uuid, with_group);
  if (!s || (!req.IsAdmin() && s->project_id != req.principal.project_id)) return std::nullopt;
  return s;
}

store::Server LoadVisibleServer(store::Tx& tx, const Request& req, const std::string& uuid,
                                bool with_group) {
  auto s = FindVisibleServer(tx, req, uuid, with_group);
  if (!s) throw Error(Errc::kNotFound, "Instance " + uuid + " could not be found.");
  return *s;
}

}  // namespace ferry::controller::api
