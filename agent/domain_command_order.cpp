#include "agent/domain_command_order.hpp"

#include <algorithm>
#include <cctype>

namespace ferry::agent {
namespace {

// The domain a create or delete acts on, lowercased (the drivers key domains so); "" for other
// kinds and for args without a string uuid.
std::string DomainOf(const wire::Command& cmd) {
  if (cmd.kind != "create_domain" && cmd.kind != "delete_domain") return "";
  if (!cmd.args.is_object() || !cmd.args.contains("uuid") || !cmd.args["uuid"].is_string()) {
    return "";
  }
  std::string uuid = cmd.args["uuid"].get<std::string>();
  std::transform(uuid.begin(), uuid.end(), uuid.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return uuid;
}

}  // namespace

DomainCommandOrder::Admission DomainCommandOrder::Begin(const wire::Command& cmd) {
  const std::string uuid = DomainOf(cmd);
  if (uuid.empty()) return {};
  std::lock_guard lock(mu_);
  if (auto it = running_.find(uuid); it != running_.end()) return {Turn::kBusy, it->second};
  if (cmd.kind == "create_domain") {
    if (auto it = deleted_.find(uuid); it != deleted_.end()) return {Turn::kDeleted, it->second};
  } else if (deleted_.emplace(uuid, cmd.id).second) {
    deleted_order_.push_back(uuid);
    while (deleted_order_.size() > deleted_capacity_) {
      deleted_.erase(deleted_order_.front());
      deleted_order_.pop_front();
    }
  }
  running_.emplace(uuid, cmd.id);
  return {};
}

void DomainCommandOrder::End(const wire::Command& cmd) {
  const std::string uuid = DomainOf(cmd);
  if (uuid.empty()) return;
  std::lock_guard lock(mu_);
  if (auto it = running_.find(uuid); it != running_.end() && it->second == cmd.id) {
    running_.erase(it);
  }
}

}  // namespace ferry::agent
