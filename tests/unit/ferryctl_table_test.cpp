// ferryctl's ASCII table formatter and cell formatting.
#include <gtest/gtest.h>

#include <stdexcept>

#include "api/client/commands/command_support.hpp"
#include "api/client/table.hpp"

namespace ferry::client {
namespace {

TEST(FerryctlTable, PadsEveryColumnToItsWidestCellWithAsciiBorders) {
  Table table({"ID", "Name"});
  table.AddRow({"1", "web-server-01"});
  table.AddRow({"1234", "db"});
  EXPECT_EQ(table.Render(),
            "+------+---------------+\n"
            "| ID   | Name          |\n"
            "+------+---------------+\n"
            "| 1    | web-server-01 |\n"
            "| 1234 | db            |\n"
            "+------+---------------+\n");
}

TEST(FerryctlTable, RightAlignedColumnsPadOnTheLeftButHeadersStayLeft) {
  Table table({"Name", "RAM (MB)"});
  table.SetAlign(1, Align::kRight);
  table.AddRow({"m1.tiny", "512"});
  table.AddRow({"m1.huge", "262144"});
  EXPECT_EQ(table.Render(),
            "+---------+----------+\n"
            "| Name    | RAM (MB) |\n"
            "+---------+----------+\n"
            "| m1.tiny |      512 |\n"
            "| m1.huge |   262144 |\n"
            "+---------+----------+\n");
}

TEST(FerryctlTable, EmptyTableStillShowsItsHeader) {
  Table table({"ID", "Host"});
  EXPECT_EQ(table.RowCount(), 0u);
  EXPECT_EQ(table.Render(),
            "+----+------+\n"
            "| ID | Host |\n"
            "+----+------+\n"
            "+----+------+\n");
}

TEST(FerryctlTable, MultiLineCellsSpanSeveralLinesAndKeepOtherColumnsAligned) {
  Table table({"Property", "Value"});
  table.AddRow({"hosts", "h1\nhost-22"});
  table.AddRow({"name", "agg"});
  EXPECT_EQ(table.Render(),
            "+----------+---------+\n"
            "| Property | Value   |\n"
            "+----------+---------+\n"
            "| hosts    | h1      |\n"
            "|          | host-22 |\n"
            "| name     | agg     |\n"
            "+----------+---------+\n");
}

TEST(FerryctlTable, WidthCountsUtf8CodePointsNotBytes) {
  EXPECT_EQ(DisplayWidth("caf\xC3\xA9"), 4u);  // "café"
  Table table({"Name"});
  table.AddRow({"caf\xC3\xA9"});
  table.AddRow({"abcde"});
  EXPECT_EQ(table.Render(),
            "+-------+\n"
            "| Name  |\n"
            "+-------+\n"
            "| caf\xC3\xA9  |\n"
            "| abcde |\n"
            "+-------+\n");
}

TEST(FerryctlTable, RowWithWrongCellCountIsRejected) {
  Table table({"A", "B"});
  EXPECT_THROW(table.AddRow({"only-one"}), std::invalid_argument);
}

TEST(FerryctlFormatValue, RendersJsonValuesAsReadableCells) {
  using nlohmann::json;
  EXPECT_EQ(FormatValue(json()), "");
  EXPECT_EQ(FormatValue(json("x")), "x");
  EXPECT_EQ(FormatValue(json(true)), "true");
  EXPECT_EQ(FormatValue(json(42)), "42");
  EXPECT_EQ(FormatValue(json::array({"h1", "h2"})), "h1, h2");
  EXPECT_EQ(FormatValue(json{{"a", "1"}, {"b", nullptr}}), "a=1, b=");
  EXPECT_EQ(FormatValue(json{{"a", "1"}, {"b", 2}}, /*multiline=*/true), "a=1\nb=2");
}

TEST(FerryctlFormatValue, PowerStateIntegersGetNovaNames) {
  EXPECT_EQ(PowerStateName(1), "Running");
  EXPECT_EQ(PowerStateName(4), "Shutdown");
  EXPECT_EQ(PowerStateName(99), "99");
  EXPECT_EQ(PowerStateName("running"), "running");
}

TEST(FerryctlApiVersion, AcceptsTwoDotNAndLatestOnly) {
  ASSERT_TRUE(ApiVersion::Parse("2.53").has_value());
  EXPECT_TRUE(ApiVersion::Parse("2.53")->AtLeast(53));
  EXPECT_FALSE(ApiVersion::Parse("2.52")->AtLeast(53));
  EXPECT_TRUE(ApiVersion::Parse("latest")->AtLeast(1000));
  EXPECT_EQ(ApiVersion::Parse("2.7")->ToString(), "2.7");
  for (const char* bad : {"", "2", "2.", "3.1", "2.x", "2.0", "2.5a", "v2.1"}) {
    EXPECT_FALSE(ApiVersion::Parse(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace ferry::client
