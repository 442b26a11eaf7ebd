// The agent's job journal (agent/jobs/job_journal.hpp): records survive as written, a full disk
// keeps the previous record, an unreadable record is quarantined rather than guessed, and
// records written by the libvirt driver before the registry was shared still load.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "agent/jobs/job_journal.hpp"
#include "common/uuid.hpp"

namespace ferry::agent {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMigration = "6f0c2b1e-8a4d-4c3b-9e2f-1a2b3c4d5e6f";
constexpr const char* kDomain = "0d7e6f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6";

JobRecord Job(const std::string& state, const std::string& error,
              const std::string& migration = kMigration) {
  JobRecord j;
  j.spec.migration_uuid = migration;
  j.spec.domain.uuid = kDomain;
  j.last.migration_uuid = migration;
  j.last.state = state;
  j.last.error = error;
  j.driver_facts = {{"copied_disks", {"/var/lib/libvirt/images/ferry-0d7e6f1a-vda.qcow2"}}};
  return j;
}

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("ferry-journal-" + NewUuid().substr(0, 8))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string path() const { return path_.string(); }
  void Write(const std::string& name, const std::string& content) const {
    std::ofstream(path_ / name) << content;
  }

 private:
  fs::path path_;
};

// Fills the file system holding `dir` until a write fails.
void Fill(const std::string& dir) {
  std::ofstream out(dir + "/filler", std::ios::binary);
  const std::string block(4096, 'x');
  while (out.write(block.data(), static_cast<std::streamsize>(block.size())) && out.flush()) {
  }
}

TEST(AgentJobJournal, RecordsComeBackAsWritten) {
  TempDir dir;
  JobJournal journal(dir.path());
  JobRecord written = Job("failed", "the link broke");
  written.abort_requested = true;
  written.reported = true;
  written.ended_at = 1234.5;
  ASSERT_TRUE(journal.Put(written));
  auto all = JobJournal(dir.path()).LoadAll();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].spec.domain.uuid, kDomain);
  EXPECT_EQ(all[0].last.error, "the link broke");
  EXPECT_TRUE(all[0].abort_requested);
  EXPECT_TRUE(all[0].reported);
  EXPECT_EQ(all[0].ended_at, 1234.5);
  EXPECT_EQ(all[0].driver_facts, written.driver_facts);
  journal.Remove(kMigration);
  journal.Remove(kMigration);  // gone already: fine
  EXPECT_TRUE(JobJournal(dir.path()).LoadAll().empty());
}

TEST(AgentJobJournal, ANameThatIsNoUuidIsNeverWritten) {
  TempDir dir;
  JobJournal journal(dir.path());
  EXPECT_FALSE(journal.Put(Job("running", "", "../../etc/passwd")));
  EXPECT_EQ(journal.failed_writes(), 1);
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(AgentJobJournal, UnreadableRecordsAreQuarantinedNotGuessed) {
  TempDir dir;
  JobJournal journal(dir.path());
  ASSERT_TRUE(journal.Put(Job("completed", "")));
  const std::string torn = NewUuid(), other = NewUuid(), odd = NewUuid();
  dir.Write(torn + ".json", R"({"spec": {"migration_uuid": ")");  // torn mid-write
  nlohmann::json renamed = Job("running", "", other);
  dir.Write(NewUuid() + ".json", renamed.dump());  // names another migration than its file
  nlohmann::json bad_state = Job("running", "", odd);
  bad_state["last"]["state"] = "exploded";
  dir.Write(odd + ".json", bad_state.dump());
  dir.Write("not-a-uuid.json", nlohmann::json(Job("running", "")).dump());
  dir.Write(std::string(kMigration) + ".json.tmp", "half a write");

  auto all = journal.LoadAll();
  ASSERT_EQ(all.size(), 1u) << "only the intact record";
  EXPECT_EQ(all[0].last.state, "completed");
  EXPECT_EQ(journal.quarantined(), 4);
  size_t corrupt = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    corrupt += e.path().extension() == ".corrupt";
    EXPECT_NE(e.path().extension(), ".tmp") << "a crashed write's leftover is removed";
  }
  EXPECT_EQ(corrupt, 4u) << "kept aside for an operator, never deleted";
  EXPECT_EQ(JobJournal(dir.path()).LoadAll().size(), 1u) << "and not read again";
}

TEST(AgentJobJournal, RecordsOfTheLibvirtDriversOwnStoreStillLoad) {
  TempDir dir;
  // The shape libvirt_job_store wrote before the registry was shared.
  nlohmann::json old = {{"spec", Job("running", "").spec},
                        {"last", Job("completed", "").last},
                        {"ended", true},
                        {"final_read", true},
                        {"copied_disks", {"/images/a.qcow2"}},
                        {"source_persistent", true}};
  old["last"]["sampled_at"] = 99.0;
  dir.Write(std::string(kMigration) + ".json", old.dump());
  auto all = JobJournal(dir.path()).LoadAll();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].last.state, "completed");
  EXPECT_TRUE(all[0].reported);
  EXPECT_EQ(all[0].ended_at, 99.0);
  EXPECT_EQ(all[0].driver_facts["copied_disks"], nlohmann::json({"/images/a.qcow2"}));
  EXPECT_EQ(all[0].driver_facts["source_persistent"], true);
}

TEST(AgentJobJournal, ARecordWithoutAKindIsALiveMigration) {
  TempDir dir;
  nlohmann::json written = Job("running", "");
  written.erase("kind");  // as every record written before cold migration
  written.erase("cold");
  dir.Write(std::string(kMigration) + ".json", written.dump());
  auto all = JobJournal(dir.path()).LoadAll();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].kind, kJobKindLive);
  EXPECT_FALSE(all[0].IsColdCopy());
  EXPECT_FALSE(all[0].cold);
}

TEST(AgentJobJournal, AColdCopyComesBackWithItsColdSpec) {
  TempDir dir;
  JobRecord written = Job("running", "");
  written.kind = kJobKindColdCopy;
  written.cold = wire::ColdMigrationSpec{};
  written.cold->migration_uuid = kMigration;
  written.cold->domain.uuid = kDomain;
  written.cold->new_disk_gb = 40;
  written.cold->transfer_token = "per-move secret";
  written.cold->receive_uri = "tcp:127.0.0.1:4444";
  ASSERT_TRUE(JobJournal(dir.path()).Put(written));
  auto all = JobJournal(dir.path()).LoadAll();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].IsColdCopy());
  ASSERT_TRUE(all[0].cold);
  EXPECT_EQ(all[0].cold->new_disk_gb, 40);
  EXPECT_EQ(all[0].cold->transfer_token, "per-move secret");
  EXPECT_EQ(all[0].cold->receive_uri, "tcp:127.0.0.1:4444");
}

TEST(AgentJobJournal, AnUnknownKindOrAColdCopyWithoutItsSpecIsQuarantined) {
  TempDir dir;
  const std::string other = "7f0c2b1e-8a4d-4c3b-9e2f-1a2b3c4d5e6f";
  const std::string third = "8f0c2b1e-8a4d-4c3b-9e2f-1a2b3c4d5e6f";
  nlohmann::json unknown = Job("running", "");
  unknown["kind"] = "teleport";
  dir.Write(std::string(kMigration) + ".json", unknown.dump());
  nlohmann::json no_spec = Job("running", "", other);
  no_spec["kind"] = kJobKindColdCopy;
  dir.Write(other + ".json", no_spec.dump());
  nlohmann::json wrong_migration = Job("running", "", third);
  wrong_migration["kind"] = kJobKindColdCopy;
  wire::ColdMigrationSpec cold;
  cold.migration_uuid = kMigration;  // not the record's
  cold.domain.uuid = kDomain;
  wrong_migration["cold"] = cold;
  dir.Write(third + ".json", wrong_migration.dump());
  JobJournal journal(dir.path());
  EXPECT_TRUE(journal.LoadAll().empty());
  EXPECT_EQ(journal.quarantined(), 3);
}

// Needs root for a tiny private tmpfs; under CI=true it fails without root, elsewhere it skips.
TEST(AgentJobJournal, AFullDiskKeepsThePreviousRecordAndReportsTheFailure) {
  if (geteuid() != 0) {
    if (std::getenv("CI") && std::string(std::getenv("CI")) == "true") FAIL() << "needs root";
    GTEST_SKIP() << "needs root (a private 16 KiB tmpfs)";
  }
  // A mount namespace of this test process only: the tmpfs is gone when it exits.
  ASSERT_EQ(unshare(CLONE_NEWNS), 0);
  ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
  const std::string dir =
      (fs::temp_directory_path() / ("ferry-jobstore-" + std::to_string(getpid())));
  fs::create_directories(dir);
  ASSERT_EQ(mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=16k"), 0);

  JobJournal journal(dir + "/jobs");
  ASSERT_TRUE(journal.Put(Job("running", "")));
  Fill(dir);
  // The outcome is bigger than the file system has room for.
  EXPECT_FALSE(journal.Put(Job("failed", std::string(8192, 'e'))));
  EXPECT_EQ(journal.failed_writes(), 1);
  auto all = journal.LoadAll();
  ASSERT_EQ(all.size(), 1u) << "the previous record must still be readable";
  EXPECT_EQ(all[0].last.state, "running");
  EXPECT_EQ(all[0].driver_facts["copied_disks"].size(), 1u);
  for (const auto& e : fs::directory_iterator(dir + "/jobs")) {
    EXPECT_NE(e.path().extension(), ".tmp") << "a failed save leaves no temporary file";
  }
  fs::remove(dir + "/filler");
  EXPECT_TRUE(journal.Put(Job("failed", "room again")));
  EXPECT_EQ(journal.LoadAll()[0].last.state, "failed");
  umount2(dir.c_str(), MNT_DETACH);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ferry::agent
