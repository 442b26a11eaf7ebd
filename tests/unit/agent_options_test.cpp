// ferry-agent's flags and address parsing: bad input fails at start with a message naming it.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "agent/address.hpp"
#include "agent/options.hpp"
#include "common/errors.hpp"

namespace ferry::agent {
namespace {

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-opt-test-XXXXXX").string();
    int fd = mkstemp(tmpl.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    path_ = tmpl;
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

AgentOptions Parse(std::vector<std::string> args) {
  CLI::App app;
  AgentOptions options;
  AddOptions(app, options);
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  app.parse(args);
  return options;
}

std::string ErrorOf(const AgentOptions& o) {
  try {
    ValidateOptions(o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(AgentOptions, RequiredFlagsAndDefaults) {
  TempFile token("t\n");
  EXPECT_THROW(Parse({"--controller-url", "http://c:8774"}), CLI::RequiredError);
  AgentOptions o = Parse({"--host", "h1", "--controller-url", "http://c:8774",
                          "--controller-token-file", token.path(), "--command-token-file",
                          token.path(), "--sim-domain", "a:1:512:1", "--sim-domain", "b:2:512:1"});
  EXPECT_EQ(o.driver, "sim");
  EXPECT_EQ(o.listen, "127.0.0.1:0");
  EXPECT_EQ(o.heartbeat_interval_s, 10);
  EXPECT_EQ(o.sim_domains.size(), 2u);
  EXPECT_EQ(ErrorOf(o), "");
}

TEST(AgentOptions, UnimplementedDriverIsRefusedClearly) {
  AgentOptions o;
  o.controller_url = "http://c:8774";
  o.driver = "vmware";
  EXPECT_NE(ErrorOf(o).find("only 'sim' and 'libvirt'"), std::string::npos);
}

TEST(AgentOptions, LibvirtFlagsMakeTheDriverConfig) {
  TempFile token("t\n");
  AgentOptions o = Parse({"--host",
                          "kvm-1",
                          "--controller-url",
                          "http://c:8774",
                          "--controller-token-file",
                          token.path(),
                          "--command-token-file",
                          token.path(),
                          "--driver",
                          "libvirt",
                          "--libvirt-uri",
                          "qemu+tcp://10.77.1.1/system",
                          "--migration-address",
                          "10.77.2.1",
                          "--libvirt-guest-kernel",
                          "/k.elf",
                          "--libvirt-shared-dir",
                          "/shared",
                          "--libvirt-images-dir",
                          std::filesystem::temp_directory_path().string()});
  EXPECT_EQ(ErrorOf(o), "");
  auto c = MakeLibvirtConfig(o);
  EXPECT_EQ(c.images_dir, std::filesystem::temp_directory_path().string());
  EXPECT_EQ(c.images_pool_path, c.images_dir) << "libvirtd sees the agent's path unless told";
  EXPECT_EQ(c.uri, "qemu+tcp://10.77.1.1/system");
  EXPECT_EQ(c.migration_address, "10.77.2.1");
  EXPECT_EQ(c.guest_kernel, "/k.elf");
  EXPECT_EQ(c.shared_dir, "/shared");
  EXPECT_EQ(c.domain_type, "qemu");
  EXPECT_EQ(c.peer_uri_template, "qemu+tcp://{host}/system");
}

// A fresh Debian host has no /var/lib/libvirt/images (libvirt-daemon does not create it): the
// agent must refuse to start, naming the flag, instead of reporting 0 GB of local disk.
TEST(AgentOptions, LibvirtImagesDirMustExistAtStart) {
  AgentOptions o;
  o.controller_url = "http://c:8774";
  o.driver = "libvirt";
  const std::string missing = std::filesystem::temp_directory_path() / "ferry-no-such-images-dir";
  o.libvirt.images_dir = missing;
  std::string error = ErrorOf(o);
  EXPECT_NE(error.find("--libvirt-images-dir " + missing), std::string::npos) << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
  TempFile file("not a directory\n");
  o.libvirt.images_dir = file.path();
  error = ErrorOf(o);
  EXPECT_NE(error.find("--libvirt-images-dir"), std::string::npos) << error;
  EXPECT_NE(error.find("not a directory"), std::string::npos) << error;
  o.libvirt.images_dir = std::filesystem::temp_directory_path();
  EXPECT_EQ(ErrorOf(o), "");
  o.libvirt.images_pool_path = "/elsewhere/images";  // libvirtd in another mount namespace
  EXPECT_EQ(MakeLibvirtConfig(o).images_pool_path, "/elsewhere/images");
}

TEST(AgentOptions, WildcardListenNeedsAnAdvertiseUrl) {
  AgentOptions o;
  o.controller_url = "http://c:8774";
  o.listen = "0.0.0.0:9000";
  EXPECT_NE(ErrorOf(o).find("--advertise-url"), std::string::npos);
  o.advertise_url = "http://agent1.example:9000";
  EXPECT_EQ(ErrorOf(o), "");
}

TEST(AgentOptions, BadNumbersAndUrlsAreRefused) {
  TempFile token("t\n");
  std::vector<std::string> base = {
      "--host",    "h1", "--controller-token-file", token.path(), "--command-token-file",
      token.path()};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), base.begin(), base.end());
    if (std::find(extra.begin(), extra.end(), "--controller-url") == extra.end()) {
      extra.insert(extra.end(), {"--controller-url", "http://c"});
    }
    return extra;
  };
  EXPECT_THROW(Parse(with({"--heartbeat-interval", "0"})), CLI::ValidationError);
  EXPECT_THROW(Parse(with({"--sim-vcpus", "lots"})), CLI::ParseError);
  EXPECT_THROW(Parse(with({"--log-level", "chatty"})), CLI::ValidationError);
  AgentOptions o = Parse(with({"--listen", "127.0.0.1:70000"}));
  EXPECT_NE(ErrorOf(o).find("port"), std::string::npos);
  o = Parse(with({"--controller-url", "controller:8774"}));
  EXPECT_NE(ErrorOf(o), "");
  o = Parse(with({"--sim-domain", "pet:1"}));
  EXPECT_NE(ErrorOf(o).find("--sim-domain 'pet:1'"), std::string::npos);
}

TEST(AgentOptions, SimConfigConvertsMegabytesPerSecondToBytes) {
  AgentOptions o;
  o.sim_bandwidth_mbps = 1250;
  o.sim_dirty_rate_mbps = 3;
  o.sim_domains = {"pet:1:512:5"};
  sim::SimConfig c = MakeSimConfig(o);
  EXPECT_EQ(c.link_bandwidth_bytes_per_s, 1'250'000'000);
  EXPECT_EQ(c.dirty_rate_bytes_per_s, 3'000'000);
  ASSERT_EQ(c.foreign_domains.size(), 1u);
  EXPECT_EQ(c.foreign_domains[0].name, "pet");
  o.sim_domains = {"pet:1"};
  EXPECT_THROW(MakeSimConfig(o), Error);
}

TEST(AgentOptions, SimScenariosAreNamedAndOptionallyScopedToOneDomain) {
  AgentOptions o;
  o.controller_url = "http://c:8774";
  o.sim_scenarios = {"stall", "switchover-fails:AAAAAAAA-1111-4222-8333-444444444444"};
  EXPECT_EQ(ErrorOf(o), "");
  sim::SimConfig c = MakeSimConfig(o);
  ASSERT_EQ(c.scenarios.size(), 2u);
  EXPECT_TRUE(c.HasScenario("stall", "bbbbbbbb-1111-4222-8333-444444444444"));
  EXPECT_TRUE(c.HasScenario("switchover-fails", "aaaaaaaa-1111-4222-8333-444444444444"));
  EXPECT_FALSE(c.HasScenario("switchover-fails", "bbbbbbbb-1111-4222-8333-444444444444"));
  EXPECT_FALSE(c.HasScenario("prepare-fails", "aaaaaaaa-1111-4222-8333-444444444444"));

  o.sim_scenarios = {"explode"};
  EXPECT_NE(ErrorOf(o).find("--sim-scenario 'explode': unknown scenario; known: precheck-fails"),
            std::string::npos)
      << ErrorOf(o);
  o.sim_scenarios = {"stall:not-a-uuid"};
  EXPECT_NE(ErrorOf(o).find("is not a uuid"), std::string::npos);
}

TEST(AgentOptions, MigrationAddressDefaultsToTheListenHostThenTheAdvertisedHost) {
  AgentOptions o;
  o.listen = "10.0.0.5:0";
  EXPECT_EQ(InboundMigrationAddress(o), "10.0.0.5");
  EXPECT_EQ(MakeSimConfig(o).migration_address, "10.0.0.5");
  o.listen = "0.0.0.0:9000";
  o.advertise_url = "http://agent-7.example:9000";
  EXPECT_EQ(InboundMigrationAddress(o), "agent-7.example");
  o.migration_address = "192.168.50.7";
  EXPECT_EQ(MakeSimConfig(o).migration_address, "192.168.50.7");
}

TEST(TokenFile, TokenIsTheFirstWordOfTheFirstNonCommentLine) {
  TempFile bare("  tok-1  \n");
  EXPECT_EQ(ReadTokenFile(bare.path()), "tok-1");
  TempFile table("# agent credentials\n\ntok-2 agent host1\n");
  EXPECT_EQ(ReadTokenFile(table.path()), "tok-2");
  TempFile empty("# nothing\n\n");
  EXPECT_THROW(ReadTokenFile(empty.path()), Error);
  EXPECT_THROW(ReadTokenFile("/nonexistent/ferry-token"), Error);
}

TEST(PortFile, HoldsTheBoundPort) {
  TempFile file("");
  WritePortFile(file.path(), 43210);
  std::ifstream in(file.path());
  int port = 0;
  in >> port;
  EXPECT_EQ(port, 43210);
  EXPECT_FALSE(std::filesystem::exists(file.path() + ".tmp"));
}

TEST(Address, ParsesHostPortIncludingIpv6) {
  HostPort a = ParseHostPort("127.0.0.1:0");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 0);
  HostPort b = ParseHostPort("[::1]:8080");
  EXPECT_EQ(b.host, "::1");
  EXPECT_EQ(b.port, 8080);
  EXPECT_EQ(FormatHostPort("::1", 8080), "[::1]:8080");
  EXPECT_EQ(FormatHostPort("agent1", 80), "agent1:80");
  for (const char* bad : {"", "127.0.0.1", ":80", "host:", "host:x", "host:65536", "[::1"}) {
    EXPECT_THROW(ParseHostPort(bad), Error) << bad;
  }
}

TEST(Address, ParsesUrlsWithDefaultPortsAndPathPrefix) {
  Url u = ParseUrl("https://ctl.example/ferry/");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.host, "ctl.example");
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.path, "/ferry");
  EXPECT_EQ(u.Origin(), "https://ctl.example:443");
  Url v = ParseUrl("http://[::1]:8774");
  EXPECT_EQ(v.host, "::1");
  EXPECT_EQ(v.port, 8774);
  EXPECT_EQ(v.path, "");
  for (const char* bad : {"ctl:8774", "ftp://ctl", "http://", "http://:80"}) {
    EXPECT_THROW(ParseUrl(bad), Error) << bad;
  }
}

}  // namespace
}  // namespace ferry::agent
