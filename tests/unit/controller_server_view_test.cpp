// Nova's API status of a server from (vm_state, task_state), and back: the filter a
// `?status=` query turns into.
#include <gtest/gtest.h>

#include <algorithm>

#include "controller/api/server_view.hpp"

namespace ferry::controller::api {
namespace {

store::Server With(const std::string& vm_state,
                   std::optional<std::string> task_state = std::nullopt) {
  store::Server s;
  s.uuid = "11111111-2222-4333-8444-555555555555";
  s.name = "vm";
  s.vm_state = vm_state;
  s.task_state = std::move(task_state);
  return s;
}

bool Has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Would ListServers with this filter return the server?
bool Selects(const StatusFilter& f, const store::Server& s) {
  if (!Has(f.vm_states, s.vm_state)) return false;
  if (!f.task_states) return true;
  return s.task_state && Has(*f.task_states, *s.task_state);
}

TEST(ServerStatus, EveryVmStateHasNovasStatus) {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"building", "BUILD"},
      {"active", "ACTIVE"},
      {"paused", "PAUSED"},
      {"suspended", "SUSPENDED"},
      {"stopped", "SHUTOFF"},
      {"rescued", "RESCUE"},
      {"resized", "VERIFY_RESIZE"},
      {"shelved", "SHELVED"},
      {"shelved_offloaded", "SHELVED_OFFLOADED"},
      {"soft-delete", "SOFT_DELETED"},
      {"deleted", "DELETED"},
      {"error", "ERROR"}};
  for (const auto& [vm_state, status] : table)
    EXPECT_EQ(ServerStatus(With(vm_state)), status) << vm_state;
}

TEST(ServerStatus, UnknownVmStateIsUnknown) {
  EXPECT_EQ(ServerStatus(With("exploded")), "UNKNOWN");
  EXPECT_EQ(ServerStatus(With("")), "UNKNOWN");
}

TEST(ServerStatus, ActiveServerShowsItsTask) {
  EXPECT_EQ(ServerStatus(With("active", "migrating")), "MIGRATING");
  for (const char* t : {"resize_prep", "resize_migrating", "resize_migrated", "resize_finish"}) {
    EXPECT_EQ(ServerStatus(With("active", t)), "RESIZE") << t;
  }
  for (const char* t : {"rebuilding", "rebuild_spawning", "rebuild_block_device_mapping"}) {
    EXPECT_EQ(ServerStatus(With("active", t)), "REBUILD") << t;
  }
  EXPECT_EQ(ServerStatus(With("active", "deleting")), "ACTIVE");
}

TEST(ServerStatus, TaskDoesNotOverrideAnInactiveVmState) {
  EXPECT_EQ(ServerStatus(With("building", "spawning")), "BUILD");
  EXPECT_EQ(ServerStatus(With("stopped", "migrating")), "SHUTOFF");
  EXPECT_EQ(ServerStatus(With("error", "migrating")), "ERROR");
  EXPECT_EQ(ServerStatus(With("suspended", "resize_prep")), "SUSPENDED");
  EXPECT_EQ(ServerStatus(With("stopped", "resize_reverting")), "SHUTOFF");
}

// Nova's _STATE_MAP gives a stopped server's resize tasks the RESIZE status too: a cold move
// of a stopped server shows RESIZE, not SHUTOFF, until it waits for confirm.
TEST(ServerStatus, StoppedServerBeingResizedShowsResize) {
  for (const char* t : {"resize_prep", "resize_migrating", "resize_migrated", "resize_finish"}) {
    EXPECT_EQ(ServerStatus(With("stopped", t)), "RESIZE") << t;
  }
  EXPECT_EQ(ServerStatus(With("stopped", "rebuilding")), "REBUILD");
}

TEST(ServerStatus, PausedServerLiveMigratingShowsMigrating) {
  EXPECT_EQ(ServerStatus(With("paused", "migrating")), "MIGRATING");
}

TEST(ServerStatus, ErrorServerBeingRebuiltShowsRebuild) {
  EXPECT_EQ(ServerStatus(With("error", "rebuilding")), "REBUILD");
}

TEST(ServerStatus, ResizedAndRevertingIsRevertResize) {
  EXPECT_EQ(ServerStatus(With("resized", "resize_reverting")), "REVERT_RESIZE");
  EXPECT_EQ(ServerStatus(With("resized")), "VERIFY_RESIZE");
}

TEST(FilterForStatus, PlainStatusSelectsItsVmStateWithoutTaskFilter) {
  auto f = FilterForStatus("SHUTOFF");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->vm_states, std::vector<std::string>{"stopped"});
  EXPECT_FALSE(f->task_states);
  f = FilterForStatus("ERROR");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->vm_states, std::vector<std::string>{"error"});
}

TEST(FilterForStatus, IsCaseInsensitive) {
  auto f = FilterForStatus("shutoff");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->vm_states, std::vector<std::string>{"stopped"});
}

TEST(FilterForStatus, MigratingSelectsActiveAndPausedServersWithTheMigratingTask) {
  for (const char* spelling : {"MIGRATING", "migrating", "Migrating"}) {
    auto f = FilterForStatus(spelling);
    ASSERT_TRUE(f) << spelling;
    EXPECT_EQ(f->vm_states, (std::vector<std::string>{"active", "paused"}));
    ASSERT_TRUE(f->task_states);
    EXPECT_EQ(*f->task_states, std::vector<std::string>{"migrating"});
  }
}

TEST(FilterForStatus, ResizeSelectsEveryResizeTask) {
  auto f = FilterForStatus("RESIZE");
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->task_states);
  auto tasks = *f->task_states;
  std::sort(tasks.begin(), tasks.end());
  EXPECT_EQ(tasks, (std::vector<std::string>{"resize_finish", "resize_migrated", "resize_migrating",
                                             "resize_prep"}));
  EXPECT_EQ(f->vm_states, (std::vector<std::string>{"active", "stopped"}));
  EXPECT_TRUE(Selects(*f, With("stopped", "resize_migrating")));
  EXPECT_FALSE(Selects(*f, With("stopped")));
  EXPECT_FALSE(Selects(*f, With("resized")));
}

TEST(FilterForStatus, VerifyResizeSelectsResizedServersWhateverTheirTask) {
  auto f = FilterForStatus("VERIFY_RESIZE");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->vm_states, std::vector<std::string>{"resized"});
  EXPECT_FALSE(f->task_states);
}

TEST(FilterForStatus, UnknownStatusIsNullopt) {
  EXPECT_FALSE(FilterForStatus("BOGUS"));
  EXPECT_FALSE(FilterForStatus(""));
  EXPECT_FALSE(FilterForStatus("UNKNOWN"));
  EXPECT_FALSE(FilterForStatus("ACTIVE "));
}

// The two directions agree: filtering by the status a server shows finds that server.
TEST(FilterForStatus, FilteringByAServersOwnStatusFindsIt) {
  const std::vector<std::string> vm_states = {"building",    "active",  "paused",
                                              "suspended",   "stopped", "rescued",
                                              "resized",     "shelved", "shelved_offloaded",
                                              "soft-delete", "deleted", "error"};
  const std::vector<std::optional<std::string>> tasks = {
      std::nullopt,       "migrating",        "resize_prep",
      "resize_migrating", "resize_migrated",  "resize_finish",
      "rebuilding",       "rebuild_spawning", "rebuild_block_device_mapping",
      "resize_reverting", "spawning",         "deleting",
      "rebooting",        "updating_password"};
  for (const auto& vm : vm_states) {
    for (const auto& task : tasks) {
      auto s = With(vm, task);
      std::string status = ServerStatus(s);
      auto f = FilterForStatus(status);
      ASSERT_TRUE(f) << vm << "/" << task.value_or("-") << " shows " << status;
      EXPECT_TRUE(Selects(*f, s)) << vm << "/" << task.value_or("-") << " shows " << status;
    }
  }
}

TEST(FilterForStatus, TaskStatusesDoNotSelectOtherTasks) {
  auto migrating = FilterForStatus("MIGRATING");
  ASSERT_TRUE(migrating);
  EXPECT_FALSE(Selects(*migrating, With("active")));
  EXPECT_FALSE(Selects(*migrating, With("active", "rebuilding")));
  EXPECT_FALSE(Selects(*migrating, With("stopped", "migrating")));
  auto revert = FilterForStatus("REVERT_RESIZE");
  ASSERT_TRUE(revert);
  EXPECT_FALSE(Selects(*revert, With("resized")));
}

Request AdminRequest(int minor) {
  Request r;
  r.principal = Principal{Role::kAdmin, "admin"};
  r.mv = Microversion{2, minor};
  r.base_url = "http://ctl:8774";
  return r;
}

TEST(ServerDetail, ShowsStatusAndFaultOnlyForErroredServers) {
  auto s = With("error");
  s.fault = nlohmann::json{{"code", 500}, {"message", "No valid host was found."}};
  auto v = ServerDetail(AdminRequest(1), s);
  EXPECT_EQ(v["status"], "ERROR");
  ASSERT_TRUE(v.contains("fault"));
  EXPECT_EQ(v["fault"]["message"], "No valid host was found.");
  s.fault =
      nlohmann::json{{"code", 500}, {"message", "m"}, {"created", "2026-01-01T00:00:03.000000"}};
  EXPECT_EQ(ServerDetail(AdminRequest(1), s)["fault"]["created"], "2026-01-01T00:00:03Z");
  s.vm_state = "active";
  EXPECT_FALSE(ServerDetail(AdminRequest(1), s).contains("fault"));
}

TEST(ServerDetail, MigratingServerShowsProgress) {
  auto s = With("active", "migrating");
  s.progress = 42;
  auto v = ServerDetail(AdminRequest(1), s);
  EXPECT_EQ(v["status"], "MIGRATING");
  EXPECT_EQ(v["progress"], 42);
  // Nova's _progress_statuses include ACTIVE; an errored server has none.
  EXPECT_EQ(ServerDetail(AdminRequest(1), With("active"))["progress"], 0);
  EXPECT_FALSE(ServerDetail(AdminRequest(1), With("error")).contains("progress"));
  EXPECT_FALSE(ServerDetail(AdminRequest(1), With("stopped")).contains("progress"));
}

TEST(ServerDetail, StorageKindOnlyWithFerryExtensions) {
  auto s = With("active");
  s.storage_kind = "local";
  Request req = AdminRequest(80);
  EXPECT_FALSE(ServerDetail(req, s).contains("ferry:storage_kind"));
  req.ferry_extensions = true;
  EXPECT_EQ(ServerDetail(req, s)["ferry:storage_kind"], "local");
}

TEST(ServerDetail, FieldsFollowTheMicroversion) {
  auto s = With("active");
  s.volumes = nlohmann::json::array({{{"id", "vol-1"}}});
  auto at1 = ServerDetail(AdminRequest(1), s);
  EXPECT_EQ(at1["os-extended-volumes:volumes_attached"][0], (nlohmann::json{{"id", "vol-1"}}));
  EXPECT_FALSE(at1.contains("OS-EXT-SRV-ATTR:reservation_id"));
  EXPECT_FALSE(at1.contains("trusted_image_certificates"));
  auto at63 = ServerDetail(AdminRequest(63), s);
  EXPECT_EQ(at63["os-extended-volumes:volumes_attached"][0]["delete_on_termination"], false);
  for (const char* key : {"OS-EXT-SRV-ATTR:hostname", "OS-EXT-SRV-ATTR:kernel_id",
                          "OS-EXT-SRV-ATTR:launch_index", "OS-EXT-SRV-ATTR:ramdisk_id",
                          "OS-EXT-SRV-ATTR:reservation_id", "OS-EXT-SRV-ATTR:root_device_name",
                          "OS-EXT-SRV-ATTR:user_data", "trusted_image_certificates"}) {
    EXPECT_TRUE(at63.contains(key)) << key;
  }
  Request member = AdminRequest(63);
  member.principal = Principal{Role::kMember, "p"};
  EXPECT_FALSE(ServerDetail(member, s).contains("OS-EXT-SRV-ATTR:hostname"));
  member.mv = Microversion{2, 90};
  EXPECT_EQ(ServerDetail(member, s)["OS-EXT-SRV-ATTR:hostname"], "vm");
  EXPECT_FALSE(ServerDetail(member, s).contains("OS-EXT-SRV-ATTR:host"));
}

TEST(ServerDetail, TimesAreFormattedAsNovaFormatsThem) {
  auto s = With("active");
  s.created_at = TimePoint(std::chrono::seconds(1767225600) + std::chrono::microseconds(250));
  s.updated_at = s.created_at;
  s.launched_at = s.created_at;
  auto v = ServerDetail(AdminRequest(1), s);
  EXPECT_EQ(v["created"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(v["updated"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(v["OS-SRV-USG:launched_at"], "2026-01-01 00:00:00.000250");
  s.launched_at = TimePoint(std::chrono::seconds(1767225600));
  EXPECT_EQ(ServerDetail(AdminRequest(1), s)["OS-SRV-USG:launched_at"], "2026-01-01 00:00:00");
}

}  // namespace
}  // namespace ferry::controller::api
