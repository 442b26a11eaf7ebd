#pragma once
// A server as its requester may see it: an admin any server, anyone else their project's.
// Nova looks servers up in the caller's context, so another project's server is "not found"
// (404) everywhere, never "forbidden" (403), which would tell that it exists.
#include <optional>
#include <string>

#include "controller/api/api_server.hpp"
#include "controller/store/models.hpp"

namespace ferry::controller::store {
class Tx;
}

namespace ferry::controller::api {

// with_group: read its server group too (store::ServerFilter::with_group).
std::optional<store::Server> FindVisibleServer(store::Tx& tx, const Request& req,
                                               const std::string& uuid, bool with_group = false);
// Throws 404 "Instance <uuid> could not be found." when FindVisibleServer finds none.
store::Server LoadVisibleServer(store::Tx& tx, const Request& req, const std::string& uuid,
                                bool with_group = false);

}  // namespace ferry::controller::api
