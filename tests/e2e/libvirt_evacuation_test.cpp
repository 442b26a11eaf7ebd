// Evacuation through the libvirt driver against two real libvirt hosts
// (deploy/testbed/libvirt-hosts): kvm-1 "dies" (its guest destroyed there), kvm-2 rebuilds the
// guest from the very same files in the shared directory and runs it; kvm-1, back, fences its
// stale copy (destroyed, autostart off, kept) and cleans it up without touching the shared files;
// a disk path that is not a file inside kvm-2's shared directory is refused with nothing
// defined; a rebuild from the image makes a fresh root volume and its revert removes exactly
// that; a guest of that uuid the evacuation did not rebuild is never replaced nor removed.
// Testbed handling: libvirt_e2e_fixture.hpp.
#include <filesystem>
#include <regex>
#include <set>

#include "tests/e2e/libvirt_e2e_fixture.hpp"

namespace {

using namespace ferry::e2e;
using ferry::Errc;
using ferry::Error;
namespace fs = std::filesystem;

constexpr int64_t kGiB = int64_t{1} << 30;

// `step` is refused with kConflict saying `why`; `otherwise` says what its success would have
// done.
template <typename Step>
void ExpectConflict(Step step, const std::string& otherwise, const std::string& why = "") {
  try {
    step();
    ADD_FAILURE() << otherwise;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConflict) << e.what();
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
  }
}

// "qemu-io -U -r": reads an image a running QEMU may hold.
bool HasPattern(const std::string& image, int mib) {
  std::string out;
  int rc = Shell("qemu-io -U -r -f qcow2 -c 'read -P 0x5a 0 " + std::to_string(mib) + "M' '" +
                     image + "' 2>&1",
                 &out);
  return rc == 0 && out.find("Pattern verification failed") == std::string::npos;
}

int64_t VirtualSize(const std::string& image) {
  std::string out;
  if (Shell("qemu-img info -U --output=json '" + image + "'", &out) != 0) return -1;
  return nlohmann::json::parse(out).value("virtual-size", int64_t{-1});
}

std::set<std::string> FilesIn(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) out.insert(entry.path().string());
  return out;
}

class LibvirtEvacuationE2E : public LibvirtE2E {
 protected:
  void TearDown() override {
    LibvirtE2E::TearDown();
    std::error_code ec;
    for (const auto& path : made_) fs::remove(path, ec);
  }

  static std::string Virsh(const std::string& host, const std::string& args) {
    std::string out;
    Shell("'" + Bed().script + "' --dir '" + Bed().dir + "' virsh " + host + " " + args, &out);
    return out;
  }
  static bool Autostarts(const std::string& host, const std::string& name) {
    return Virsh(host, "dominfo " + name).find("Autostart:      enable") != std::string::npos;
  }
  static bool DefinedOn(const std::string& host, const std::string& name) {
    return Virsh(host, "list --all --name").find(name) != std::string::npos;
  }
  // The disk files of `name`'s definition on `host`, as libvirt holds them.
  static std::vector<std::string> DiskSources(const std::string& host, const std::string& name) {
    const std::string xml = Virsh(host, "dumpxml " + name);
    static const std::regex re("<source file='([^']+)'");
    std::vector<std::string> out;
    for (std::sregex_iterator it(xml.begin(), xml.end(), re), end; it != end; ++it) {
      out.push_back((*it)[1].str());
    }
    return out;
  }
  std::string SharedDir() const { return Bed().dir + "/shared"; }

  // A guest running on kvm-1 whose root disk (vda, 64 MiB, 16 MiB of 0x5a) is a file in the
  // shared directory and which has a volume (vdb) in shared/volumes, as the testbed defines one;
  // returned as kvm-1 reports it (what the controller passes back in the evacuation's spec).
  ferry::wire::Domain SharedGuest(const std::string& what) {
    auto guest = NewGuest(what);
    const std::string name = guest.name;
    made_.push_back(SharedDir() + "/" + name + ".qcow2");
    made_.push_back(SharedDir() + "/volumes/" + name + "-vol.qcow2");
    EXPECT_EQ(Bed().Run("guest define " + name + " --host kvm-1 --disk shared --volume-mb 16 " +
                        "--uuid " + guest.uuid + " --tick-ms 500 --dirty-mbps 1"),
              0);
    EXPECT_TRUE(WaitFor(20s, [&] { return Ticks(Bed().Serial("kvm-1", name)).size() >= 2; }))
        << "the guest never ticked on kvm-1";
    auto reported = Find(*src_, guest.uuid);
    EXPECT_TRUE(reported.has_value());
    return reported.value_or(guest);
  }

  static ferry::wire::EvacuationSpec EvacSpec(const ferry::wire::Domain& d) {
    ferry::wire::EvacuationSpec s;
    s.migration_uuid = ferry::NewUuid();
    s.domain = d;
    s.domain.vcpus = 1;
    s.domain.memory_mb = 128;
    s.source_host = "kvm-1";
    s.dest_host = "kvm-2";
    s.image_ref = "155d900f-4e14-4e4c-a73d-069cbf4541e6";
    return s;
  }

  std::vector<std::string> made_;  // files this test put in the shared directory
};

TEST_F(LibvirtEvacuationE2E, Kvm2RunsTheGuestFromTheSameSharedFilesAndKvm1CleansUpItsStaleCopy) {
  MakeDrivers(1);
  auto guest = SharedGuest("ferry-e2e-evacuate");
  ASSERT_EQ(guest.disks.size(), 2u);
  EXPECT_EQ(guest.disks[0].kind, "shared");
  EXPECT_EQ(guest.disks[1].kind, "volume");
  const auto source_files = DiskSources("kvm-1", guest.name);
  ASSERT_EQ(source_files.size(), 2u);

  // kvm-1 dies: its guest stops there with it (its definition stays, as on a host without power).
  Virsh("kvm-1", "destroy " + guest.name);
  const Tick last_on_kvm1 = LastTick(Bed().Serial("kvm-1", guest.name));
  auto spec = EvacSpec(guest);

  const auto t0 = Clock::now();
  auto rebuilt = dst_->RebuildEvacuatedDomain(spec);
  std::fprintf(stderr, "rebuild on kvm-2: %.2f s\n", Since(t0));
  EXPECT_EQ(rebuilt.uuid, guest.uuid);
  EXPECT_EQ(rebuilt.power_state, ferry::wire::PowerState::kRunning);
  ASSERT_EQ(rebuilt.disks.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(rebuilt.disks[i].path, guest.disks[i].path) << "another file than the source's";
    EXPECT_EQ(rebuilt.disks[i].kind, guest.disks[i].kind);
  }
  EXPECT_EQ(DiskSources("kvm-2", guest.name), source_files)
      << "kvm-2's definition opens other files than kvm-1's did";
  EXPECT_TRUE(WaitFor(20s, [&] { return Ticks(Bed().Serial("kvm-2", guest.name)).size() >= 2; }))
      << "the guest does not run on kvm-2";
  // A repeat (the controller crashed after sending it) returns the guest as it is.
  auto again = dst_->RebuildEvacuatedDomain(spec);
  EXPECT_EQ(again.uuid, guest.uuid);
  EXPECT_EQ(again.power_state, ferry::wire::PowerState::kRunning);

  // kvm-1 is back, its stale copy set to autostart: fenced, then cleaned up.
  Virsh("kvm-1", "autostart " + guest.name);
  src_->FenceEvacuatedDomain(guest.uuid);
  auto fenced = Find(*src_, guest.uuid);
  ASSERT_TRUE(fenced.has_value()) << "fencing undefined the stale copy";
  EXPECT_EQ(fenced->power_state, ferry::wire::PowerState::kShutdown);
  EXPECT_FALSE(Autostarts("kvm-1", guest.name)) << "a libvirtd restart would start it again";
  EXPECT_EQ(LastTick(Bed().Serial("kvm-1", guest.name)).n, last_on_kvm1.n);
  spec.delete_local_disks = true;
  src_->CleanUpEvacuatedSource(spec);
  EXPECT_FALSE(HasDomain(*src_, guest.uuid));
  EXPECT_FALSE(DefinedOn("kvm-1", guest.name));
  for (const auto& file : source_files) {
    EXPECT_TRUE(fs::exists(file)) << "clean-up deleted the shared file " << file;
    EXPECT_TRUE(HasPattern(file, 16)) << file << " lost its data";
  }
  src_->CleanUpEvacuatedSource(spec);  // a repeat: already gone is success
  const long ticks = LastTick(Bed().Serial("kvm-2", guest.name)).n;
  EXPECT_TRUE(WaitFor(10s, [&] { return LastTick(Bed().Serial("kvm-2", guest.name)).n > ticks; }))
      << "the guest stopped on kvm-2";
}

TEST_F(LibvirtEvacuationE2E, FenceDestroysARunningGuestAndKeepsItsDefinitionAndDisks) {
  MakeDrivers(1);
  auto guest = SharedGuest("ferry-e2e-fence");
  Virsh("kvm-1", "autostart " + guest.name);
  ASSERT_TRUE(Autostarts("kvm-1", guest.name));
  src_->FenceEvacuatedDomain(guest.uuid);
  auto fenced = Find(*src_, guest.uuid);
  ASSERT_TRUE(fenced.has_value()) << "fencing undefined the guest";
  EXPECT_EQ(fenced->power_state, ferry::wire::PowerState::kShutdown);
  EXPECT_FALSE(Autostarts("kvm-1", guest.name));
  EXPECT_EQ(fenced->disks.size(), 2u) << "its disks left its definition";
  for (const auto& disk : guest.disks) EXPECT_TRUE(fs::exists(disk.path)) << disk.path;
  const Tick last = LastTick(Bed().Serial("kvm-1", guest.name));
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(LastTick(Bed().Serial("kvm-1", guest.name)).n, last.n) << "it still runs";
  src_->FenceEvacuatedDomain(guest.uuid);        // off already: success
  src_->FenceEvacuatedDomain(ferry::NewUuid());  // not here: success
}

TEST_F(LibvirtEvacuationE2E, ADiskPathThatIsNotAFileInTheSharedDirIsRefusedWithNothingDefined) {
  MakeDrivers(1);
  auto guest = NewGuest("ferry-e2e-escape");
  // Files outside the shared directory, and a symlink inside it pointing out.
  const std::string outside = Bed().dir + "/outside-" + guest.uuid + ".qcow2";
  const std::string link = SharedDir() + "/link-" + guest.uuid + ".qcow2";
  const std::string not_a_volume = SharedDir() + "/plain-" + guest.uuid + ".qcow2";
  made_ = {outside, link, not_a_volume};
  ASSERT_EQ(Shell("qemu-img create -q -f qcow2 '" + outside + "' 64M && qemu-img create -q -f " +
                  "qcow2 '" + not_a_volume + "' 64M"),
            0);
  fs::create_symlink(outside, link);
  struct Case {
    const char* what;
    std::string path;
    std::string kind;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"/etc/passwd", "/etc/passwd", "shared", "is not inside"},
      {"dot-dot out of the shared dir", SharedDir() + "/../outside-" + guest.uuid + ".qcow2",
       "shared", "is not inside"},
      {"a symlink in the shared dir pointing out", link, "shared", "resolves to " + outside},
      {"a file that is not there", SharedDir() + "/missing-" + guest.uuid + ".qcow2", "shared",
       "is not on this host"},
      {"the shared dir itself", SharedDir(), "shared", "is not inside"},
      {"a volume outside shared/volumes", not_a_volume, "volume", "is not inside"},
      {"a local disk (it died with its host)", not_a_volume, "local", "of kind 'local'"},
      {"a network disk", "nbd://10.0.0.1/export", "volume", "is not a file"},
  };
  for (const auto& c : cases) {
    auto spec = EvacSpec(guest);
    spec.domain.disks = {{"vda", c.path, c.kind, 64 << 20, "qcow2", ""}};
    ExpectConflict([&] { dst_->RebuildEvacuatedDomain(spec); },
                   std::string("rebuilt from ") + c.what, c.why);
    EXPECT_FALSE(HasDomain(*dst_, guest.uuid)) << c.what;
    EXPECT_FALSE(DefinedOn("kvm-2", guest.name)) << c.what;
    dst_->RevertEvacuationDestination(spec);  // what the controller does next: nothing to undo
  }
  EXPECT_TRUE(fs::exists(outside));
  EXPECT_TRUE(fs::exists(not_a_volume));
  EXPECT_EQ(Shell("test -s /etc/passwd"), 0);
}

TEST_F(LibvirtEvacuationE2E, RebuildFromTheImageMakesAFreshRootVolumeAndRevertRemovesExactlyIt) {
  MakeDrivers(1);
  auto guest = NewGuest("ferry-e2e-from-image");
  guest.disk_gb = 1;
  // Its local disk died with kvm-1. A file of the very name of the root volume in the shared
  // directory must survive the revert (a shared file is never ferry's to delete).
  const std::string decoy = SharedDir() + "/ferry-" + guest.uuid + "-vda.qcow2";
  made_ = {decoy};
  ASSERT_EQ(Shell("qemu-img create -q -f qcow2 '" + decoy + "' 64M"), 0);
  const std::string root = Bed().Images("kvm-2") + "/ferry-" + guest.uuid + "-vda.qcow2";
  const auto before = FilesIn(Bed().Images("kvm-2"));
  auto spec = EvacSpec(guest);
  spec.domain.disks = {{"vda", "/var/lib/libvirt/images/gone.qcow2", "local", kGiB, "qcow2", ""}};
  spec.rebuild_from_image = true;

  auto rebuilt = dst_->RebuildEvacuatedDomain(spec);
  EXPECT_EQ(rebuilt.power_state, ferry::wire::PowerState::kRunning);
  ASSERT_EQ(rebuilt.disks.size(), 1u);
  EXPECT_EQ(rebuilt.disks[0].target, "vda");
  EXPECT_EQ(rebuilt.disks[0].kind, "local");
  EXPECT_TRUE(fs::exists(root)) << "no fresh root volume in kvm-2's images pool";
  EXPECT_EQ(VirtualSize(root), kGiB);
  auto after = FilesIn(Bed().Images("kvm-2"));
  after.erase(root);
  EXPECT_EQ(after, before) << "rebuild made more than the root volume";
  EXPECT_TRUE(WaitFor(20s, [&] { return Ticks(Bed().Serial("kvm-2", guest.name)).size() >= 2; }));

  dst_->RevertEvacuationDestination(spec);
  EXPECT_FALSE(HasDomain(*dst_, guest.uuid));
  EXPECT_FALSE(DefinedOn("kvm-2", guest.name));
  EXPECT_EQ(FilesIn(Bed().Images("kvm-2")), before) << "revert left or took something else";
  EXPECT_TRUE(fs::exists(decoy)) << "revert deleted a file in the shared directory";
  dst_->RevertEvacuationDestination(spec);  // nothing left: success
}

TEST_F(LibvirtEvacuationE2E, AGuestAlreadyDefinedWithTheUuidButNotMarkedIsRefusedAndLeftUntouched) {
  MakeDrivers(1);
  auto guest = NewGuest("ferry-e2e-already-there");
  guest.disk_gb = 1;
  auto there = dst_->CreateDomain(guest);
  const std::string its_disk = Bed().Images("kvm-2") + "/ferry-" + guest.uuid + "-vda.qcow2";
  ASSERT_TRUE(fs::exists(its_disk));
  const auto its_files = DiskSources("kvm-2", guest.name);
  auto spec = EvacSpec(there);
  spec.rebuild_from_image = true;
  ExpectConflict([&] { dst_->RebuildEvacuatedDomain(spec); }, "replaced a guest that was there",
                 "not by evacuation");
  dst_->RevertEvacuationDestination(spec);
  auto still = Find(*dst_, guest.uuid);
  ASSERT_TRUE(still.has_value()) << "the revert removed a guest this evacuation never made";
  EXPECT_EQ(still->power_state, ferry::wire::PowerState::kRunning);
  EXPECT_EQ(DiskSources("kvm-2", guest.name), its_files);
  EXPECT_TRUE(fs::exists(its_disk)) << "the revert deleted the guest's own disk";
}

}  // namespace
