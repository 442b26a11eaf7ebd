// A server's name is its member's to choose: on a real libvirt host (see libvirt_e2e.hpp) it
// never becomes a host path or the libvirt domain name. Domains and serial files are named
// ferry-<uuid>; the display name lives in <title> and the API still shows it.
#include <filesystem>

#include "tests/e2e/libvirt_e2e.hpp"

namespace ferry::testing {
namespace {

class LibvirtServerNames : public LibvirtE2E {
 protected:
  // The server's host, status and name as the API shows them, once it left BUILD.
  json Settled(const std::string& id) { return lm_->stack->WaitServerSettled(id); }

  void ExpectTicksAs(const std::string& host, const std::string& id) {
    EXPECT_TRUE(Stack::WaitFor([&] { return bed().LastTick(host, DomainName(id)).n >= 2; }, 90s))
        << "no heartbeat in " << DomainName(id) << ".log on " << host;
  }
};

// Two projects each have a server "web" on one host: neither blocks the other.
TEST_F(LibvirtServerNames, TwoProjectsMayEachRunAWebOnOneHost) {
  Start({}, "dirty_mbps=1");
  auto member = lm_->stack->Member();  // project "alice"
  auto r = member.Post("/v2.1/servers", {{"server", {{"name", "web"}, {"flavorRef", "1"}}}});
  ASSERT_EQ(r.status, 202) << r.raw;
  const std::string alices = r.body["server"]["id"].get<std::string>();
  const json first = Settled(alices);
  ASSERT_EQ(first["status"], "ACTIVE") << first.dump();
  const std::string host = first["OS-EXT-SRV-ATTR:host"].get<std::string>();
  // The admin project's "web", forced onto the same host.
  const std::string admins = lm_->ServerOn(host, "web");
  EXPECT_EQ(Settled(admins)["name"], "web") << "the API shows the display name (from <title>)";
  EXPECT_EQ(Settled(alices)["name"], "web");
  ExpectTicksAs(host, alices);
  ExpectTicksAs(host, admins);
  auto domains = bed().Domains(host);
  EXPECT_EQ(std::count(domains.begin(), domains.end(), DomainName(alices)), 1);
  EXPECT_EQ(std::count(domains.begin(), domains.end(), DomainName(admins)), 1);
  EXPECT_EQ(std::count(domains.begin(), domains.end(), "web"), 0) << "no domain is named by it";
}

// "../x" would have put the serial log one directory up (DIR/kvm-1/x.log) as root.
TEST_F(LibvirtServerNames, ADotDotNameCreatesNoFileOutsideTheSerialDir) {
  Start({}, "dirty_mbps=1");
  const std::string escaped = bed().dir() + "/kvm-1/x.log";
  std::filesystem::remove(escaped);
  const std::string id = lm_->ServerOn("kvm-1", "../x");
  EXPECT_EQ(Settled(id)["name"], "../x");
  ExpectTicksAs("kvm-1", id);
  EXPECT_FALSE(std::filesystem::exists(escaped)) << "a file appeared outside the serial dir";
  EXPECT_TRUE(std::filesystem::exists(bed().dir() + "/kvm-1/serial/" + DomainName(id) + ".log"));
}

}  // namespace
}  // namespace ferry::testing
