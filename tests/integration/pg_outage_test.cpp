// A PostgreSQL outage longer than service-down-time marks no host down when PostgreSQL returns:
// heartbeats could not be recorded during it, so silence proves nothing until the controller has
// reached the database again for a whole service-down-time. The PostgreSQL stopped here is one
// this test starts for itself with deploy/pg (never the cluster the other tests share).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;

int Shell(const std::string& command) { return std::system(command.c_str()); }

class PgOutage : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-pg-outage.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(Pg("--fast start"), 0) << "deploy/pg could not start a private cluster in " << dir_;
    std::ifstream in(dir_ + "/dsn");
    ASSERT_TRUE(std::getline(in, dsn_)) << "no " << dir_ << "/dsn";
  }
  void TearDown() override {
    stack_.reset();  // drops its schema while the cluster still runs
    Pg("destroy");
  }
  int Pg(const std::string& verb) {
    return Shell(std::string(FERRY_SOURCE_DIR) + "/deploy/pg " + verb + " '" + dir_ + "' >> '" +
                 dir_ + "/deploy-pg.log' 2>&1");
  }
  // Host states read straight from the database; empty while it cannot be reached.
  std::vector<std::string> DownHosts() {
    try {
      pqxx::connection c(stack_->dsn());
      pqxx::work w(c);
      std::vector<std::string> out;
      for (const auto& r : w.exec("SELECT name FROM hosts WHERE state = 'down' ORDER BY name")) {
        out.push_back(r[0].as<std::string>());
      }
      return out;
    } catch (const std::exception&) {
      return {};
    }
  }
  std::string dir_;
  std::string dsn_;
  std::unique_ptr<Stack> stack_;
};

TEST_F(PgOutage, AnOutageLongerThanServiceDownTimeMarksNoHostDownWhenPostgresReturns) {
  StackOptions options;
  options.service_down_time_s = 3;  // short, so the outage below can outlast it in seconds
  options.heartbeat_interval_s = 1;
  stack_ = std::make_unique<Stack>(dsn_, options);
  stack_->StartController();
  // Retries at most 2 s apart: after the outage every agent is heard again well within the
  // 3 s service-down-time, as agents (30 s) are within the default 60 s.
  for (const char* host : {"sim-1", "sim-2"}) {
    stack_->StartAgent(host, {"--controller-retry-max-ms", "2000"});
  }
  ASSERT_TRUE(stack_->WaitUntilUp({"sim-1", "sim-2"})) << stack_->ControllerLog();
  std::this_thread::sleep_for(4s);  // liveness has been armed for a while: hosts can go down

  ASSERT_EQ(Pg("stop"), 0);
  std::this_thread::sleep_for(6s);  // twice service-down-time without a recorded heartbeat
  ASSERT_EQ(Pg("--fast start"), 0);

  std::set<std::string> went_down;
  auto until = std::chrono::steady_clock::now() + 8s;
  while (std::chrono::steady_clock::now() < until) {
    for (const auto& h : DownHosts()) went_down.insert(h);
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(went_down.empty()) << "went down: " << *went_down.begin() << "\n"
                                 << stack_->ControllerLog();
  EXPECT_EQ(stack_->ControllerLog().find("host down host="), std::string::npos);
  EXPECT_EQ(stack_->HostState("sim-1"), "up");
  EXPECT_EQ(stack_->HostState("sim-2"), "up");

  // Liveness still works afterwards: a host that really stops is marked down.
  stack_->KillAgent("sim-2");
  EXPECT_TRUE(Stack::WaitFor([&] { return stack_->HostState("sim-2") == "down"; }, 15s));
}

}  // namespace
}  // namespace ferry::testing
