// common/metrics: the text exposition format 0.0.4 (HELP/TYPE, label escaping, histogram
// series), bounded cardinality and thread safety.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "common/metrics/metrics.hpp"

namespace ferry::metrics {
namespace {

TEST(Metrics, CounterRendersHelpTypeAndLabelledSeries) {
  Registry r;
  auto& c = r.AddCounter("ferry_things_total", "Things done.", {"kind", "result"});
  c.With({"live-migration", "completed"}).Inc();
  c.With({"live-migration", "completed"}).Inc(2);
  c.With({"resize", "failed"}).Inc();
  EXPECT_EQ(r.Render(),
            "# HELP ferry_things_total Things done.\n"
            "# TYPE ferry_things_total counter\n"
            "ferry_things_total{kind=\"live-migration\",result=\"completed\"} 3\n"
            "ferry_things_total{kind=\"resize\",result=\"failed\"} 1\n");
}

TEST(Metrics, AFamilyWithoutLabelsShowsZeroFromTheStart) {
  Registry r;
  r.AddGauge("ferry_level", "A level.");
  r.AddCounter("ferry_events_total", "Events.");
  EXPECT_EQ(r.Render(),
            "# HELP ferry_level A level.\n# TYPE ferry_level gauge\nferry_level 0\n"
            "# HELP ferry_events_total Events.\n# TYPE ferry_events_total counter\n"
            "ferry_events_total 0\n");
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  Registry r;
  auto& g = r.AddGauge("ferry_g", "Back\\slash and\nnewline; \"quotes\" stay.", {"host"});
  g.With({"a\"b\\c\nd"}).Set(1.5);
  EXPECT_EQ(r.Render(),
            "# HELP ferry_g Back\\\\slash and\\nnewline; \"quotes\" stay.\n"
            "# TYPE ferry_g gauge\n"
            "ferry_g{host=\"a\\\"b\\\\c\\nd\"} 1.5\n");
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("\\\"\n"), "\\\\\\\"\\n");
}

TEST(Metrics, HistogramHasCumulativeBucketsInfSumAndCount) {
  Registry r;
  auto& h = r.AddHistogram("ferry_latency_seconds", "Latency.", {"route"}, {0.1, 1});
  auto& s = h.With({"/v2.1/servers/{id}"});
  s.Observe(0.05);
  s.Observe(0.1);  // le is inclusive
  s.Observe(0.5);
  s.Observe(7);
  EXPECT_EQ(r.Render(),
            "# HELP ferry_latency_seconds Latency.\n"
            "# TYPE ferry_latency_seconds histogram\n"
            "ferry_latency_seconds_bucket{route=\"/v2.1/servers/{id}\",le=\"0.1\"} 2\n"
            "ferry_latency_seconds_bucket{route=\"/v2.1/servers/{id}\",le=\"1\"} 3\n"
            "ferry_latency_seconds_bucket{route=\"/v2.1/servers/{id}\",le=\"+Inf\"} 4\n"
            "ferry_latency_seconds_sum{route=\"/v2.1/servers/{id}\"} 7.65\n"
            "ferry_latency_seconds_count{route=\"/v2.1/servers/{id}\"} 4\n");
}

TEST(Metrics, HistogramWithoutLabelsPutsLeAlone) {
  Registry r;
  r.AddHistogram("ferry_wait_seconds", "Wait.", {}, {1}).Get().Observe(2);
  EXPECT_NE(r.Render().find("ferry_wait_seconds_bucket{le=\"1\"} 0\n"), std::string::npos);
  EXPECT_NE(r.Render().find("ferry_wait_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos);
  EXPECT_NE(r.Render().find("ferry_wait_seconds_sum 2\n"), std::string::npos);
}

TEST(Metrics, ValuesUseThePrometheusSpellings) {
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(0.25), "0.25");
}

TEST(Metrics, NamesAndLabelsAreCheckedAndUnique) {
  Registry r;
  r.AddCounter("ferry_a_total", "A.");
  EXPECT_THROW(r.AddCounter("ferry_a_total", "A again."), std::invalid_argument);
  EXPECT_THROW(r.AddGauge("9bad", "Bad."), std::invalid_argument);
  EXPECT_THROW(r.AddGauge("ferry_b", "B.", {"le"}), std::invalid_argument);
  EXPECT_THROW(r.AddGauge("ferry_c", "C.", {"bad-label"}), std::invalid_argument);
  EXPECT_THROW(r.AddHistogram("ferry_d", "D.", {}, {2, 1}), std::invalid_argument);
  auto& g = r.AddGauge("ferry_e", "E.", {"x", "y"});
  EXPECT_THROW(g.With({"only one"}), std::invalid_argument);
}

TEST(Metrics, CardinalityIsCappedWithOneOverflowSeries) {
  Registry r;
  auto& c = r.AddCounter("ferry_paths_total", "Paths.", {"path"});
  for (size_t i = 0; i < kMaxSeriesPerFamily + 50; ++i) c.With({std::to_string(i)}).Inc();
  const std::string text = r.Render();
  size_t lines = 0;
  for (char ch : text) lines += ch == '\n';
  EXPECT_EQ(lines, 2 + kMaxSeriesPerFamily + 1);
  EXPECT_NE(text.find("ferry_paths_total{path=\"overflow\"} 50\n"), std::string::npos);
}

// A per-host family (ferry_host_up) holds a series per host well past the general cap: host
// 2,001 shows, by Replace (what /metrics does) and by With; its own cap still holds.
TEST(Metrics, APerHostFamilyHoldsMoreHostsThanTheGeneralCap) {
  static_assert(kMaxSeriesPerHostFamily > kMaxSeriesPerFamily);
  Registry r;
  auto& g = r.AddGauge("ferry_host_up", "Up.", {"host"}, kMaxSeriesPerHostFamily);
  std::vector<std::pair<Labels, double>> hosts;
  for (size_t i = 1; i <= kMaxSeriesPerFamily + 1; ++i) {
    hosts.push_back({{"host-" + std::to_string(i)}, 1});
  }
  g.Replace(hosts);
  std::string text = r.Render();
  EXPECT_NE(text.find("ferry_host_up{host=\"host-2001\"} 1\n"), std::string::npos);
  EXPECT_EQ(text.find("overflow"), std::string::npos);
  g.With({"host-2002"}).Set(1);
  text = r.Render();
  EXPECT_NE(text.find("ferry_host_up{host=\"host-2002\"} 1\n"), std::string::npos);
  EXPECT_EQ(text.find("overflow"), std::string::npos);

  for (size_t i = 0; i < kMaxSeriesPerHostFamily + 5; ++i) {
    hosts.push_back({{"more-" + std::to_string(i)}, 1});
  }
  g.Replace(hosts);
  text = r.Render();
  size_t lines = 0;
  for (char ch : text) lines += ch == '\n';
  EXPECT_EQ(lines, 2 + kMaxSeriesPerHostFamily);
  // A family made without a cap keeps the general one.
  auto& plain = r.AddGauge("ferry_plain", "Plain.", {"host"});
  plain.Replace(hosts);
  text = r.Render();
  EXPECT_EQ(text.find("ferry_plain{host=\"host-2001\"}"), std::string::npos);
}

TEST(Metrics, MethodsComeFromAFixedList) {
  EXPECT_EQ(MethodLabel("GET"), "GET");
  EXPECT_EQ(MethodLabel("DELETE"), "DELETE");
  EXPECT_EQ(MethodLabel("get"), "other");
  EXPECT_EQ(MethodLabel("PROPFIND"), "other");
}

TEST(Metrics, ReplaceSwapsTheWholeSetOfSeries) {
  Registry r;
  auto& g = r.AddGauge("ferry_hosts_up", "Up.", {"host"});
  g.Replace({{{"a"}, 1}, {{"b"}, 0}});
  g.Replace({{{"b"}, 1}});
  EXPECT_EQ(r.Render(),
            "# HELP ferry_hosts_up Up.\n# TYPE ferry_hosts_up gauge\n"
            "ferry_hosts_up{host=\"b\"} 1\n");
}

TEST(Metrics, ConcurrentUpdatesAreAllCounted) {
  Registry r;
  auto& c = r.AddCounter("ferry_n_total", "N.", {"t"});
  auto& h = r.AddHistogram("ferry_h_seconds", "H.", {"t"}, {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        c.With({std::to_string(t % 2)}).Inc();
        h.With({"x"}).Observe(i % 2 ? 1.0 : 0.25);
        if (i % 1000 == 0) (void)r.Render();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.With({"0"}).Value() + c.With({"1"}).Value(), 40000);
  auto snap = h.With({"x"}).Read();
  EXPECT_EQ(snap.count, 40000u);
  EXPECT_EQ(snap.cumulative[0], 20000u);
  EXPECT_EQ(snap.cumulative[1], 40000u);
}

}  // namespace
}  // namespace ferry::metrics
