// GET /v2.1/os-migrations at scale, through the real HTTP endpoint of a real controller process:
// a page of 1,000 from a 1,000,000-row table (first page, a deep page via a marker in the
// middle, filtered pages) against the baseline of a page of 1,000 from a 1,000-row table (the
// whole table), measured in the same run. Every big-table case returns a full page, so each
// ratio compares pages of the same size. Target: within ~2x of the 1k-row table.
//
// Run: FERRY_TEST_PG_DIR=<deploy/pg dir> os_migrations_bench [rows=1000000] [repeats=15]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "tests/support/stack.hpp"

namespace {

using ferry::testing::HttpClient;
using ferry::testing::Stack;
using Clock = std::chrono::steady_clock;

// Rows from..to (inclusive) in the shapes of a long-lived cloud: 500 hosts, 2,000 users,
// 300 projects, 1 % errors, 1 in 97 an evacuation, one row every 10 s. generate_series keeps
// the fill inside PostgreSQL (about 45 s per million on the 2-core box, indexes included).
void Fill(const std::string& dsn, int64_t from, int64_t to) {
  pqxx::connection c(dsn);
  pqxx::work w(c);
  w.exec("SET LOCAL synchronous_commit = off");
  w.exec_params(R"sql(
    INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute,
                            dest_compute, user_id, project_id, created_at, updated_at)
    SELECT gen_random_uuid(), ('00000000-0000-4000-8000-' || lpad(to_hex(g % 50000), 12, '0'))::uuid,
           CASE WHEN g % 97 = 0 THEN 'evacuation' WHEN g % 5 = 0 THEN 'migration'
                ELSE 'live-migration' END,
           CASE WHEN g % 100 = 0 THEN 'error' ELSE 'completed' END,
           'host-' || (g % 500), 'host-' || ((g * 7) % 500), 'user-' || (g % 2000),
           'project-' || (g % 300), timestamptz '2025-01-01' + g * interval '10 seconds',
           timestamptz '2025-01-01' + g * interval '10 seconds' + interval '5 minutes'
    FROM generate_series($1::bigint, $2::bigint) g)sql",
                from, to);
  w.commit();
  pqxx::nontransaction n(c);
  n.exec("VACUUM ANALYZE migrations");  // as autovacuum would after a bulk load
}

std::string MiddleMarker(const std::string& dsn) {
  pqxx::connection c(dsn);
  pqxx::work w(c);
  return w
      .exec1(
          "SELECT uuid::text FROM migrations ORDER BY created_at DESC, id DESC OFFSET "
          "(SELECT count(*) / 2 FROM migrations) LIMIT 1")[0]
      .as<std::string>();
}

struct Case {
  const char* name;
  std::string query;
};

// Median wall time of `repeats` GETs (after 3 warm-ups), in ms; -1 if any answer is not a
// full 200 page (a benchmark of errors is no benchmark).
double MedianMs(const HttpClient& api, const std::string& query, int repeats, size_t* rows) {
  std::vector<double> ms;
  for (int i = 0; i < repeats + 3; ++i) {
    const auto start = Clock::now();
    auto r = api.Get("/v2.1/os-migrations" + query);
    const double elapsed = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (r.status != 200) {
      std::fprintf(stderr, "GET %s: HTTP %d %s\n", query.c_str(), r.status,
                   r.raw.substr(0, 200).c_str());
      return -1;
    }
    *rows = r.body["migrations"].size();
    if (i >= 3) ms.push_back(elapsed);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

std::vector<double> Measure(const Stack& stack, const std::vector<Case>& cases, int repeats,
                            const char* label) {
  HttpClient api = stack.Admin();
  api.SetMicroversion("2.80");
  std::vector<double> out;
  for (const auto& c : cases) {
    size_t rows = 0;
    out.push_back(MedianMs(api, c.query, repeats, &rows));
    std::printf("  %-10s %-28s %8.2f ms  (%zu rows)\n", label, c.name, out.back(), rows);
  }
  return out;
}

std::vector<Case> Cases(const std::string& marker) {
  return {{"first page", "?limit=1000"},
          {"deep page (marker)", "?limit=1000&marker=" + marker},
          {"status=completed", "?limit=1000&status=completed"},
          {"host=host-7", "?limit=1000&host=host-7"},        // 4,000 of 1M rows
          {"user_id=user-7", "?limit=1000&user_id=user-7"},  // 500 of 1M: a short page
          {"migration_type=live", "?limit=1000&migration_type=live-migration"},
          {"changes-since", "?limit=1000&changes-since=2025-01-02T00:00:00Z"}};
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t big = argc > 1 ? std::stoll(argv[1]) : 1'000'000;
  const int repeats = argc > 2 ? std::stoi(argv[2]) : 15;
  constexpr int64_t kSmall = 1'000;  // the baseline table: one page's worth
  std::string why;
  auto dsn = ferry::testing::ClusterDsn(&why);
  if (!dsn) {
    std::fprintf(stderr, "os_migrations_bench: no PostgreSQL (%s); set FERRY_TEST_PG_DIR\n",
                 why.c_str());
    return 2;
  }
  Stack stack(*dsn);
  stack.StartController();

  std::printf("os-migrations paging: median of %d GETs per case, microversion 2.80\n", repeats);
  Fill(stack.dsn(), 1, kSmall);
  // Baseline: the first (and only) page of the 1k-row table. The other cases are shown for the
  // small table too, but a filtered page of it holds fewer rows, so they are not the baseline.
  const auto small = Measure(stack, Cases(MiddleMarker(stack.dsn())), repeats, "1k rows");
  const double baseline = small[0];

  const auto fill_start = Clock::now();
  Fill(stack.dsn(), kSmall + 1, big);
  std::printf("  (filled to %lld rows in %.1f s)\n", static_cast<long long>(big),
              std::chrono::duration<double>(Clock::now() - fill_start).count());
  const auto cases = Cases(MiddleMarker(stack.dsn()));
  const auto large = Measure(stack, cases, repeats, "big");

  std::printf("\n%-28s %14s %10s %7s\n", "case (page of 1,000)", "baseline ms", "big ms", "ratio");
  bool within = true;
  for (size_t i = 0; i < cases.size(); ++i) {
    const double ratio = baseline > 0 && large[i] > 0 ? large[i] / baseline : -1;
    within = within && ratio > 0 && ratio <= 2.0;
    std::printf("%-28s %14.2f %10.2f %6.2fx\n", cases[i].name, baseline, large[i], ratio);
  }
  std::printf("target: every case within ~2x of the 1k-row table: %s\n",
              within ? "met" : "NOT met");
  return 0;
}
