// schema/views.md is the dashboards' contract: every view it documents exists with exactly the
// columns (name and type) it lists, and every dashboard view of the schema (a view named v_*)
// is documented, column by column. A column added to a view without its line in views.md, or a
// line for a column that does not exist, fails here; so does a view granted to ferry_dashboard
// that views.md does not document, or one documented and not granted.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

using Columns = std::map<std::string, std::string>;  // column -> type
using Views = std::map<std::string, Columns>;

const char* const kViewsMd = FERRY_SOURCE_DIR "/schema/views.md";

// PostgreSQL's own spelling, and the short one views.md may use.
std::string NormaliseType(std::string t) {
  if (t == "timestamp with time zone") return "timestamptz";
  return t;
}

// "## v_name" opens a view's section; its table's rows are "| `column` | type | meaning |".
Views ParseViewsMd(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  Views out;
  static const std::regex kHeading(R"(^## (v_[a-z0-9_]+)\s*$)");
  static const std::regex kOtherHeading(R"(^#{1,2} )");
  static const std::regex kRow(R"(^\|\s*`([a-z0-9_]+)`\s*\|\s*([^|]+?)\s*\|)");
  std::string line, view;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, kHeading)) {
      view = m[1].str();
      EXPECT_EQ(out.count(view), 0u) << view << " documented twice";
      out[view];
    } else if (std::regex_search(line, kOtherHeading)) {
      view.clear();
    } else if (!view.empty() && std::regex_search(line, m, kRow)) {
      EXPECT_EQ(out[view].count(m[1].str()), 0u) << view << "." << m[1].str() << " twice";
      out[view][m[1].str()] = NormaliseType(m[2].str());
    }
  }
  return out;
}

class DashboardViewsContractTest : public StoreTest {
 protected:
  Views FromCatalog() {
    Views out;
    for (const auto& r : Sql(R"sql(
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'v'
          AND c.relname LIKE 'v\_%' AND a.attnum > 0 AND NOT a.attisdropped)sql")) {
      out[r[0].as<std::string>()][r[1].as<std::string>()] = NormaliseType(r[2].as<std::string>());
    }
    return out;
  }
};

TEST_F(DashboardViewsContractTest, ViewsMdDocumentsEveryViewColumnByColumn) {
  const Views doc = ParseViewsMd(kViewsMd);
  const Views db = FromCatalog();
  // The contract's seven at least (more may come: each documented here too).
  for (const char* v :
       {"v_migrations_in_progress", "v_migration_history", "v_host_load", "v_host_drain_status",
        "v_drain_servers", "v_orphaned_claims", "v_migration_events"}) {
    EXPECT_EQ(db.count(v), 1u) << v << " is not in the schema";
    EXPECT_EQ(doc.count(v), 1u) << v << " is not documented in schema/views.md";
  }
  for (const auto& [view, columns] : db) {
    auto it = doc.find(view);
    if (it == doc.end()) {
      ADD_FAILURE() << view << " exists but schema/views.md does not document it";
      continue;
    }
    for (const auto& [column, type] : columns) {
      auto c = it->second.find(column);
      if (c == it->second.end()) {
        ADD_FAILURE() << view << "." << column << " (" << type
                      << ") exists but schema/views.md does not document it";
      } else {
        EXPECT_EQ(c->second, type) << view << "." << column << ": views.md says " << c->second;
      }
    }
    for (const auto& [column, type] : it->second) {
      EXPECT_EQ(columns.count(column), 1u)
          << view << "." << column << " is documented in schema/views.md but does not exist";
    }
  }
  for (const auto& [view, columns] : doc) {
    EXPECT_EQ(db.count(view), 1u) << view << " is documented but is not in the schema";
    EXPECT_FALSE(columns.empty()) << view << " is documented without columns";
  }
}

TEST_F(DashboardViewsContractTest, TheRoleMayReadExactlyTheDocumentedViews) {
  const Views doc = ParseViewsMd(kViewsMd);
  std::set<std::string> documented;
  for (const auto& [view, columns] : doc) documented.insert(view);
  std::set<std::string> granted;
  for (const auto& r : Sql(R"sql(
      SELECT c.relname FROM pg_class c
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
        AND has_table_privilege('ferry_dashboard', c.oid, 'SELECT'))sql")) {
    granted.insert(r[0].as<std::string>());
  }
  EXPECT_EQ(granted, documented);
}

}  // namespace
}  // namespace ferry::controller::store
