// common/token_file: the single-token file reader the controller and the agent share, so a
// command-token file both accept gives both the same token (review M1).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "common/errors.hpp"
#include "common/token_file.hpp"
#include "tests/support/process.hpp"

namespace ferry {
namespace {

class SingleTokenFile : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ferry::testing::TempDir("ferry-token-file"); }
  void TearDown() override {
    std::remove(path().c_str());
    std::remove(dir_.c_str());
  }
  std::string path() const { return dir_ + "/token"; }
  std::string Write(const std::string& text) {
    std::ofstream(path(), std::ios::binary) << text;
    return path();
  }
  std::string dir_;
};

TEST_F(SingleTokenFile, CommentLinesBlankLinesAndCarriageReturnsAreNotPartOfTheToken) {
  EXPECT_EQ(ReadTokenFile(Write("# command token for every agent\r\n\r\n  s3cret \r\n")), "s3cret");
  EXPECT_EQ(ReadTokenFile(Write("\t# indented comment\n\ns3cret")), "s3cret");
}

TEST_F(SingleTokenFile, OnlyTheFirstWordCountsSoATokensTableLineGivesItsToken) {
  EXPECT_EQ(ReadTokenFile(Write("s3cret agent sim-1 # the agent's own\n")), "s3cret");
}

TEST_F(SingleTokenFile, AFileWithoutATokenIsRefused) {
  for (const char* text : {"", "\n\n", "# only a comment\n", " \r\n\t\n"}) {
    EXPECT_THROW(ReadTokenFile(Write(text)), Error) << '"' << text << '"';
  }
  EXPECT_THROW(ReadTokenFile(dir_ + "/missing"), Error);
}

}  // namespace
}  // namespace ferry
