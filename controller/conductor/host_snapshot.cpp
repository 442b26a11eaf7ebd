#include "controller/conductor/host_snapshot.hpp"

#include <spdlog/spdlog.h>

#include "controller/conductor/server_placement.hpp"
#include "controller/store/scheduler_hosts_store.hpp"

namespace ferry::controller::conductor {
namespace {

std::string Trim(const std::string& s) {
  auto b = s.find_first_not_of(' ');
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(' ') - b + 1);
}

std::string JsonString(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

}  // namespace

scheduler::HostState ToHostState(const store::SchedulerHostView& view) {
  scheduler::HostState s = ToHostState(view.host);
  const auto& cpu = view.host.cpu_info;
  s.cpu.arch = JsonString(cpu, "arch");
  s.cpu.vendor = JsonString(cpu, "vendor");
  s.cpu.model = JsonString(cpu, "model");
  if (cpu.is_object() && cpu.contains("features") && cpu["features"].is_array()) {
    for (const auto& f : cpu["features"]) {
      if (f.is_string()) s.cpu.features.insert(f.get<std::string>());
    }
  }
  for (const auto& [key, value] : view.aggregate_metadata) {
    auto& values = s.aggregate_metadata[key];
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      if (comma == std::string::npos) comma = value.size();
      values.insert(Trim(value.substr(start, comma - start)));
      start = comma + 1;
    }
  }
  s.shared_datastores.insert(view.shared_datastores.begin(), view.shared_datastores.end());
  s.inbound_migrations = view.inbound_live_migrations;
  s.outbound_migrations = view.outbound_live_migrations;
  return s;
}

HostSnapshot::HostSnapshot(store::Database& db, const Clock& clock, HostSnapshotOptions options)
    : db_(db), clock_(clock), options_(options) {}

std::shared_ptr<const scheduler::HostIndex> HostSnapshot::Current() {
  {
    std::lock_guard lock(current_mu_);
    if (current_) return current_;
  }
  FullReload();
  std::lock_guard lock(current_mu_);
  return current_;
}

void HostSnapshot::MarkDirty(int64_t host_id) { MarkDirty(std::vector<int64_t>{host_id}); }

void HostSnapshot::MarkDirty(const std::vector<int64_t>& host_ids) {
  std::lock_guard lock(writer_mu_);
  dirty_.insert(host_ids.begin(), host_ids.end());
  if (!watermark_) return;  // not loaded yet: the first load reads everything anyway
  try {
    RefreshDirtyLocked();
    PublishLocked();
  } catch (const std::exception& e) {
    spdlog::warn("host snapshot: re-reading changed hosts deferred error={}", e.what());
  }
}

void HostSnapshot::Tick() {
  bool full = false;
  {
    std::lock_guard lock(writer_mu_);
    full = !last_full_reload_ || clock_.Now() - *last_full_reload_ >= options_.full_reload_every;
    if (!full) {
      RefreshChangedLocked();
      RefreshDirtyLocked();
      PublishLocked();
    }
  }
  if (full) FullReload();
}

void HostSnapshot::FullReload() {
  std::lock_guard lock(writer_mu_);
  std::vector<store::SchedulerHostView> views;
  TimePoint db_now;
  db_.Transact([&](store::Tx& tx) {
    db_now = store::DatabaseNow(tx);
    views = store::LoadSchedulerHosts(tx, std::nullopt);
  });
  hosts_.clear();
  for (const auto& v : views) {
    hosts_[v.host.id] = std::make_shared<const scheduler::HostState>(ToHostState(v));
  }
  structural_change_ = true;
  dirty_.clear();
  watermark_ = db_now - options_.watermark_overlap;
  last_full_reload_ = clock_.Now();
  last_refresh_size_ = views.size();
  PublishLocked();
}

void HostSnapshot::RefreshChangedLocked() {
  std::vector<int64_t> believed_down;
  for (const auto& [id, h] : hosts_) {
    if (!h->up) believed_down.push_back(id);
  }
  store::HostChanges changes;
  std::vector<store::SchedulerHostView> views;
  db_.Transact([&](store::Tx& tx) {
    changes = store::HostsChangedSince(tx, *watermark_, believed_down);
    if (!changes.host_ids.empty()) views = store::LoadSchedulerHosts(tx, changes.host_ids);
  });
  ApplyLocked(changes.host_ids, views);
  watermark_ = changes.database_now - options_.watermark_overlap;
  last_refresh_size_ = changes.host_ids.size();
}

void HostSnapshot::RefreshDirtyLocked() {
  if (dirty_.empty()) return;
  std::vector<int64_t> ids(dirty_.begin(), dirty_.end());
  std::vector<store::SchedulerHostView> views;
  db_.Transact([&](store::Tx& tx) { views = store::LoadSchedulerHosts(tx, ids); });
  ApplyLocked(ids, views);
  dirty_.clear();
  last_refresh_size_ = ids.size();
}

void HostSnapshot::ApplyLocked(const std::vector<int64_t>& ids,
                               const std::vector<store::SchedulerHostView>& views) {
  std::set<int64_t> seen;
  for (const auto& v : views) {
    auto state = std::make_shared<const scheduler::HostState>(ToHostState(v));
    auto [it, added] = hosts_.insert_or_assign(v.host.id, state);
    structural_change_ = structural_change_ || added;
    changed_.push_back(std::move(state));
    seen.insert(v.host.id);
  }
  for (int64_t id : ids) {
    // Absent from the re-read: the host was deleted.
    if (!seen.count(id) && hosts_.erase(id)) structural_change_ = true;
  }
}

void HostSnapshot::PublishLocked() {
  std::shared_ptr<const scheduler::HostIndex> base;
  {
    std::lock_guard lock(current_mu_);
    base = current_;
  }
  std::shared_ptr<const scheduler::HostIndex> patched;
  if (base && !structural_change_) patched = base->WithChanged(changed_);
  changed_.clear();
  structural_change_ = false;
  if (patched) {
    std::lock_guard lock(current_mu_);
    current_ = std::move(patched);
    return;
  }
  std::vector<std::shared_ptr<const scheduler::HostState>> all;
  all.reserve(hosts_.size());
  for (const auto& [id, h] : hosts_) all.push_back(h);
  auto index = std::make_shared<const scheduler::HostIndex>(std::move(all));
  std::lock_guard lock(current_mu_);
  current_ = std::move(index);
}

size_t HostSnapshot::last_refresh_size() const { return last_refresh_size_; }

}  // namespace ferry::controller::conductor
