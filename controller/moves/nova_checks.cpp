#include "controller/moves/nova_checks.hpp"

#include "common/errors.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::moves {

store::Server ServerOr404(store::Tx& tx, const std::string& uuid) {
  auto s = store::FindServer(tx, uuid);
  if (!s) throw Error(Errc::kNotFound, "Instance " + uuid + " could not be found.");
  return *s;
}

void InvalidState(const std::string& action, const std::string& uuid, const std::string& attr,
                  const std::string& state) {
  throw Error(Errc::kConflict,
              "Cannot '" + action + "' instance " + uuid + " while it is in " + attr + " " + state);
}

void RequireUnlocked(const store::Server& s, bool admin) {
  if (s.locked && !admin) throw Error(Errc::kConflict, "Instance " + s.uuid + " is locked");
}

}  // namespace ferry::controller::moves
