// common/tokens: the token file ("<token> <role> [<name>]", '#' comments).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "common/tokens.hpp"
#include "tests/support/process.hpp"

namespace ferry {
namespace {

class TokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ferry::testing::TempDir("ferry-tokens"); }
  void TearDown() override {
    std::remove(path().c_str());
    std::remove(dir_.c_str());
  }
  std::string path() const { return dir_ + "/tokens"; }
  std::string Write(const std::string& text) {
    std::ofstream(path()) << text;
    return path();
  }
  std::string dir_;
};

TEST_F(TokenFileTest, ReadsEachRoleAndNameAndSkipsCommentsAndBlankLines) {
  auto table =
      TokenTable::LoadFile(Write("# ferry tokens\n"
                                 "\n"
                                 "tok-admin admin alice\n"
                                 "   \t\n"
                                 "tok-member member bob   # the project is bob\n"
                                 "tok-agent agent compute-1\n"
                                 "# tok-commented admin mallory\n"));
  auto admin = table.Find("tok-admin");
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->role, Role::kAdmin);
  EXPECT_EQ(admin->name, "alice");
  auto member = table.Find("tok-member");
  ASSERT_TRUE(member);
  EXPECT_EQ(member->role, Role::kMember);
  EXPECT_EQ(member->name, "bob");
  auto agent = table.Find("tok-agent");
  ASSERT_TRUE(agent);
  EXPECT_EQ(agent->role, Role::kAgent);
  EXPECT_EQ(agent->name, "compute-1");
  EXPECT_FALSE(table.Find("tok-commented"));
  EXPECT_FALSE(table.Find("#"));
  EXPECT_FALSE(table.Find(""));
  EXPECT_FALSE(table.Find("alice"));
}

TEST_F(TokenFileTest, NameDefaultsToTheRole) {
  auto table = TokenTable::LoadFile(Write("t1 admin\nt2 member\n"));
  EXPECT_EQ(table.Find("t1")->name, "admin");
  EXPECT_EQ(table.Find("t2")->name, "member");
}

TEST_F(TokenFileTest, UnknownRoleIsAnErrorNamingFileLineAndRole) {
  Write("good admin\n# comment\nbad superuser eve\n");
  try {
    TokenTable::LoadFile(path());
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(path() + ":3"), std::string::npos) << what;
    EXPECT_NE(what.find("'superuser'"), std::string::npos) << what;
  }
}

TEST_F(TokenFileTest, RolesAreCaseSensitive) {
  EXPECT_THROW(TokenTable::LoadFile(Write("t Admin\n")), std::runtime_error);
}

TEST_F(TokenFileTest, TokenWithoutRoleIsAnError) {
  EXPECT_THROW(TokenTable::LoadFile(Write("lonely-token\n")), std::runtime_error);
}

TEST_F(TokenFileTest, TokenListedTwiceIsAnError) {
  EXPECT_THROW(TokenTable::LoadFile(Write("t1 admin\nt1 member\n")), std::runtime_error);
}

TEST_F(TokenFileTest, MissingFileIsAnError) {
  EXPECT_THROW(TokenTable::LoadFile(dir_ + "/does-not-exist"), std::runtime_error);
}

TEST(TokenTable, FindIsExactMatch) {
  TokenTable t;
  t.Add("secret", Principal{Role::kAdmin, "root"});
  EXPECT_TRUE(t.Find("secret"));
  EXPECT_FALSE(t.Find("Secret"));
  EXPECT_FALSE(t.Find("secret "));
  EXPECT_FALSE(t.Find("secre"));
}

}  // namespace
}  // namespace ferry
