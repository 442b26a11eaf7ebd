// Cold migration and resize of real QEMU guests through the whole stack (see libvirt_e2e.hpp):
// Nova's API -> controller -> agents -> the testbed's libvirtds, the disks streamed agent to
// agent over TLS under the testbed's CA. Resize then confirm (the new vCPUs, RAM and disk as
// libvirt has them; the source's disk gone), migrate then revert (the source's disk
// byte-identical, the guest running there again), a guest on shared storage (nothing copied),
// and crashes mid-copy: the controller killed, either agent killed (the copy resumes), the
// destination's copy corrupted (the move ends in error and the guest runs again on the source).
// Every case ends with the guest on one host.
#include <sys/stat.h>

#include <filesystem>
#include <regex>

#include "tests/e2e/libvirt_e2e.hpp"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

const std::string kGuest = "dirty_mbps=1 wss_mib=8";

std::string Sha256(const std::string& path) {
  std::string cmd = "sha256sum '" + path + "' 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  char buf[128] = {};
  const size_t n = fread(buf, 1, 64, p);
  pclose(p);
  return n == 64 ? std::string(buf, 64) : "";
}

// The guest sees the same disk in both images (qemu-img compare: contents, not bytes: QEMU
// writes to an image's header when a guest opens it, so a running copy's bytes move on).
bool SameGuestContent(const std::string& a, const std::string& b) {
  return std::system(("qemu-img compare -U -q '" + a + "' '" + b + "'").c_str()) == 0;
}

int64_t AllocatedBytes(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_blocks) * 512 : 0;
}

class ColdMigrationLibvirt : public LibvirtE2E {
 protected:
  // Cold copies at 8 MiB/s (a 48 MiB disk takes ~6 s: long enough to crash in the middle);
  // guests that ignore the power button are destroyed after 2 s.
  void StartCold() {
    Start({"--cold-migration-bandwidth", "8", "--shutdown-timeout", "2"}, kGuest);
    lm_->stack->EnsureFlavor("d1", 1, 128, 1);
    lm_->stack->EnsureFlavor("d2", 2, 192, 2);
  }

  HttpResult Action(const std::string& id, const json& body) {
    auto admin = lm_->stack->Admin();
    admin.SetMicroversion("2.56");
    return admin.Post("/v2.1/servers/" + id + "/action", body);
  }

  json WaitServerStatus(const std::string& id, const std::string& status,
                        std::chrono::seconds timeout) {
    json s;
    Stack::WaitFor(
        [&] {
          s = lm_->Server(id);
          return s["status"] == status && s["OS-EXT-STS:task_state"].is_null();
        },
        timeout);
    return s;
  }

  // The testbed's guest on kvm-1 with a local 64 MiB qcow2 disk holding 48 MiB of 0x5a,
  // adopted as a server (flavor "1").
  std::string DiskGuest(const std::string& name) {
    auto id = AdoptTestbedGuest(name, "--disk local --disk-mb 64 --disk-data-mb 48");
    source_image_ = bed().ImagesDir("kvm-1") + "/" + name + ".qcow2";
    dest_image_ = bed().ImagesDir("kvm-2") + "/ferry-" + id + "-vda.disk";
    return id;
  }

  // The copy is under way: the destination's image holds some but not all of the data.
  void WaitMidCopy() {
    ASSERT_TRUE(Stack::WaitFor([&] { return AllocatedBytes(dest_image_) >= (8LL << 20); }, 60s))
        << "no bytes arrived at " << dest_image_;
    ASSERT_LT(AllocatedBytes(dest_image_), 40LL << 20) << "the copy was over before the crash";
  }

  // vCPUs and max memory (KiB) of `name` on `host`, as libvirt says.
  std::pair<int, int64_t> DomInfo(const std::string& host, const std::string& name) {
    const std::string out = bed().Script("virsh " + host + " dominfo " + name);
    std::smatch cpu, mem;
    std::regex_search(out, cpu, std::regex("CPU\\(s\\):\\s+([0-9]+)"));
    std::regex_search(out, mem, std::regex("Max memory:\\s+([0-9]+) KiB"));
    return {cpu.empty() ? -1 : std::stoi(cpu[1]), mem.empty() ? -1 : std::stoll(mem[1])};
  }

  // The guest runs on `host` as `name` and `other` has no `other_name` (a guest ferry defines on
  // a destination is named from its uuid: DomainName; an adopted one keeps its name at home).
  void ExpectOnlyOn(const std::string& id, const std::string& host, const std::string& name,
                    const std::string& other, const std::string& other_name) {
    auto server = lm_->Server(id);
    EXPECT_EQ(server["OS-EXT-SRV-ATTR:host"], host) << server.dump();
    EXPECT_EQ(server["status"], "ACTIVE");
    EXPECT_EQ(lm_->ClaimHosts(id), std::set<std::string>{host});
    EXPECT_EQ(lm_->LeakedClaims(), 0);
    EXPECT_TRUE(Stack::WaitFor([&] { return bed().Running(host, name); }, 20s))
        << name << " does not run on " << host;
    auto on_other = bed().Domains(other);
    EXPECT_EQ(std::count(on_other.begin(), on_other.end(), other_name), 0)
        << other_name << " still defined on " << other;
    const GuestTick now = bed().LastTick(host, name);
    EXPECT_TRUE(bed().TicksPast(host, name, GuestTick{now.n, ""}, 30))
        << name << " does not tick on " << host;
  }

  std::string source_image_, dest_image_;
};

TEST_F(ColdMigrationLibvirt, ResizeThenConfirmRunsTheNewFlavorOnKvm2AndDeletesTheSource) {
  StartCold();
  auto id = lm_->ServerOn("kvm-1", "e2e-resize", "d1");
  const std::string name = DomainName(id);
  ASSERT_TRUE(Stack::WaitFor([&] { return bed().LastTick("kvm-1", name).n >= 2; }, 60s));
  const std::string src_image = bed().ImagesDir("kvm-1") + "/ferry-" + id + "-vda.qcow2";
  ASSERT_TRUE(fs::exists(src_image));

  auto r = Action(id, {{"resize", {{"flavorRef", "d2"}}}});
  ASSERT_EQ(r.status, 202) << r.raw;
  auto s = WaitServerStatus(id, "VERIFY_RESIZE", 120s);
  ASSERT_EQ(s["status"], "VERIFY_RESIZE") << s.dump() << "\n" << lm_->LatestMigration(id).dump();
  EXPECT_EQ(s["OS-EXT-SRV-ATTR:host"], "kvm-2");
  EXPECT_NE(s["flavor"].dump().find("d2"), std::string::npos) << s["flavor"].dump();
  const auto [vcpus, kib] = DomInfo("kvm-2", name);
  EXPECT_EQ(vcpus, 2) << "libvirt runs the new flavor's vCPUs";
  EXPECT_EQ(kib, 192 * 1024) << "libvirt runs the new flavor's RAM";
  EXPECT_TRUE(bed().Running("kvm-2", name));
  EXPECT_TRUE(fs::exists(src_image)) << "the source keeps its disk until confirm";

  ASSERT_EQ(Action(id, {{"confirmResize", nullptr}}).status, 204);
  ASSERT_TRUE(lm_->WaitStatus(id, "confirmed", 60s)) << lm_->LatestMigration(id).dump();
  EXPECT_FALSE(fs::exists(src_image)) << "confirm deletes the source's disk";
  ExpectOnlyOn(id, "kvm-2", name, "kvm-1", name);
  EXPECT_EQ(lm_->LatestMigration(id)["migration_type"], "resize");
}

TEST_F(ColdMigrationLibvirt, MigrateThenRevertRunsTheGuestAgainOnItsByteIdenticalDisk) {
  StartCold();
  auto id = DiskGuest("e2e-cold-revert");
  const std::string name = "e2e-cold-revert";

  ASSERT_EQ(Action(id, {{"migrate", {{"host", "kvm-2"}}}}).status, 202);
  auto s = WaitServerStatus(id, "VERIFY_RESIZE", 120s);
  ASSERT_EQ(s["status"], "VERIFY_RESIZE") << s.dump() << "\n" << lm_->LatestMigration(id).dump();
  // Powered off on the source before its disk was read: the bytes now stay as they are.
  const std::string source_sha = Sha256(source_image_);
  ASSERT_FALSE(source_sha.empty());
  EXPECT_TRUE(SameGuestContent(source_image_, dest_image_)) << "the destination's copy differs";
  EXPECT_TRUE(bed().Running("kvm-2", DomainName(id)));

  ASSERT_EQ(Action(id, {{"revertResize", nullptr}}).status, 202);
  ASSERT_TRUE(lm_->WaitStatus(id, "reverted", 90s)) << lm_->LatestMigration(id).dump();
  ExpectOnlyOn(id, "kvm-1", name, "kvm-2", DomainName(id));
  EXPECT_FALSE(fs::exists(dest_image_)) << "revert removes the destination's copy";
  // The guest runs again on it; its disk was never written (the test guest does not use it).
  EXPECT_EQ(Sha256(source_image_), source_sha) << "the source's disk is byte-identical";
}

TEST_F(ColdMigrationLibvirt, ControllerKilledMidCopyFinishesTheMove) {
  StartCold();
  auto id = DiskGuest("e2e-cold-ctl-kill");
  const std::string name = "e2e-cold-ctl-kill";
  ASSERT_EQ(Action(id, {{"migrate", {{"host", "kvm-2"}}}}).status, 202);
  WaitMidCopy();
  lm_->stack->KillController();
  std::this_thread::sleep_for(2s);  // the copy goes on between the agents meanwhile
  lm_->stack->StartController();
  auto s = WaitServerStatus(id, "VERIFY_RESIZE", 120s);
  ASSERT_EQ(s["status"], "VERIFY_RESIZE") << s.dump() << "\n" << lm_->LatestMigration(id).dump();
  ASSERT_EQ(Action(id, {{"confirmResize", nullptr}}).status, 204);
  ASSERT_TRUE(lm_->WaitStatus(id, "confirmed", 60s)) << lm_->LatestMigration(id).dump();
  ExpectOnlyOn(id, "kvm-2", DomainName(id), "kvm-1", name);
}

TEST_F(ColdMigrationLibvirt, SourceAgentKilledMidCopyResumesAndTheGuestExistsOnce) {
  StartCold();
  auto id = DiskGuest("e2e-cold-agent-kill");
  const std::string name = "e2e-cold-agent-kill";
  ASSERT_EQ(Action(id, {{"migrate", {{"host", "kvm-2"}}}}).status, 202);
  WaitMidCopy();
  const std::string source_sha = Sha256(source_image_);
  lm_->stack->KillAgent("kvm-1");
  std::this_thread::sleep_for(1s);
  RestartAgent("kvm-1", kGuest);
  auto s = WaitServerStatus(id, "VERIFY_RESIZE", 120s);
  ASSERT_EQ(s["status"], "VERIFY_RESIZE") << s.dump() << "\n" << lm_->LatestMigration(id).dump();
  EXPECT_TRUE(SameGuestContent(source_image_, dest_image_)) << "the destination's copy differs";
  EXPECT_EQ(Sha256(source_image_), source_sha) << "the source's disk changed";
  ASSERT_EQ(Action(id, {{"confirmResize", nullptr}}).status, 204);
  ASSERT_TRUE(lm_->WaitStatus(id, "confirmed", 60s)) << lm_->LatestMigration(id).dump();
  ExpectOnlyOn(id, "kvm-2", DomainName(id), "kvm-1", name);
}

TEST_F(ColdMigrationLibvirt, DestinationAgentKilledMidCopyResumesAndTheGuestExistsOnce) {
  StartCold();
  auto id = DiskGuest("e2e-cold-dest-kill");
  const std::string name = "e2e-cold-dest-kill";
  ASSERT_EQ(Action(id, {{"migrate", {{"host", "kvm-2"}}}}).status, 202);
  WaitMidCopy();
  lm_->stack->KillAgent("kvm-2");  // the link breaks; the source tries again
  std::this_thread::sleep_for(1s);
  RestartAgent("kvm-2", kGuest);
  auto s = WaitServerStatus(id, "VERIFY_RESIZE", 120s);
  ASSERT_EQ(s["status"], "VERIFY_RESIZE") << s.dump() << "\n" << lm_->LatestMigration(id).dump();
  EXPECT_TRUE(SameGuestContent(source_image_, dest_image_)) << "the destination's copy differs";
  ASSERT_EQ(Action(id, {{"confirmResize", nullptr}}).status, 204);
  ASSERT_TRUE(lm_->WaitStatus(id, "confirmed", 60s)) << lm_->LatestMigration(id).dump();
  ExpectOnlyOn(id, "kvm-2", DomainName(id), "kvm-1", name);
}

TEST_F(ColdMigrationLibvirt, ACopyThatDoesNotVerifyEndsInErrorWithTheGuestBackOnTheSource) {
  StartCold();
  auto id = DiskGuest("e2e-cold-mismatch");
  const std::string name = "e2e-cold-mismatch";
  ASSERT_EQ(Action(id, {{"migrate", {{"host", "kvm-2"}}}}).status, 202);
  // Bytes that already arrived go bad on the destination's storage before the destination read
  // them back (its first read-back comes with its first checkpoint, 2 s into the copy).
  ASSERT_TRUE(Stack::WaitFor([&] { return AllocatedBytes(dest_image_) >= (2LL << 20); }, 60s));
  const std::string source_sha = Sha256(source_image_);
  ASSERT_EQ(std::system(("printf 'corrupt' | dd of='" + dest_image_ +
                         "' bs=1 seek=524288 conv=notrunc status=none")
                            .c_str()),
            0);
  ASSERT_TRUE(lm_->WaitStatus(id, "error", 120s)) << lm_->LatestMigration(id).dump();
  auto s = WaitServerStatus(id, "ACTIVE", 60s);
  EXPECT_EQ(s["status"], "ACTIVE") << s.dump();
  ExpectOnlyOn(id, "kvm-1", name, "kvm-2", DomainName(id));
  EXPECT_EQ(Sha256(source_image_), source_sha) << "the source's disk is untouched";
  EXPECT_FALSE(fs::exists(dest_image_)) << "the rollback removed the copy";
}

// A guest on shared storage: nothing is copied (the destination learns the guest's disks from
// the source's manifest alone), the guest runs on kvm-2 from the same file, and confirm leaves
// that file alone — it is the guest's disk now.
TEST_F(ColdMigrationLibvirt, ASharedStorageGuestMovesWithoutCopyingAndKeepsItsDisk) {
  StartCold();
  const std::string name = "e2e-cold-shared";
  auto id = AdoptTestbedGuest(name, "--disk shared --disk-mb 64 --disk-data-mb 16");
  const std::string disk = bed().SharedDir() + "/" + name + ".qcow2";
  ASSERT_TRUE(fs::exists(disk));
  ASSERT_EQ(Action(id, {{"migrate", {{"host", "kvm-2"}}}}).status, 202);
  auto s = WaitServerStatus(id, "VERIFY_RESIZE", 120s);
  ASSERT_EQ(s["status"], "VERIFY_RESIZE") << s.dump() << "\n" << lm_->LatestMigration(id).dump();
  EXPECT_NE(bed().Script("virsh kvm-2 domblklist " + DomainName(id)).find(disk), std::string::npos)
      << "the guest on kvm-2 does not use the shared disk";
  EXPECT_FALSE(fs::exists(bed().ImagesDir("kvm-2") + "/ferry-" + id + "-vda.disk"))
      << "a shared disk was copied";
  ASSERT_EQ(Action(id, {{"confirmResize", nullptr}}).status, 204);
  ASSERT_TRUE(lm_->WaitStatus(id, "confirmed", 60s)) << lm_->LatestMigration(id).dump();
  ExpectOnlyOn(id, "kvm-2", DomainName(id), "kvm-1", name);
  EXPECT_TRUE(fs::exists(disk)) << "confirm deleted the shared disk the guest runs from";
}

}  // namespace
}  // namespace ferry::testing
