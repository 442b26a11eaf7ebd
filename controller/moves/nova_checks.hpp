#pragma once
// Nova's synchronous checks of a server that every move request makes (compute/api.py), with
// Nova's codes and texts, for the API-side services of every kind.
#include <string>

#include "controller/store/models.hpp"

namespace ferry::controller::store {
class Tx;
}

namespace ferry::controller::moves {

// 404 "Instance <uuid> could not be found."
store::Server ServerOr404(store::Tx& tx, const std::string& uuid);

// Nova's raise_http_conflict_for_instance_invalid_state: 409 "Cannot '<action>' instance <uuid>
// while it is in <attr> <state>".
[[noreturn]] void InvalidState(const std::string& action, const std::string& uuid,
                               const std::string& attr, const std::string& state);

// Nova's check_instance_lock: 409 InstanceIsLocked, for non-admins only (an admin acts on a
// locked server).
void RequireUnlocked(const store::Server& s, bool admin);

}  // namespace ferry::controller::moves
