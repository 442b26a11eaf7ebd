#pragma once
// Prometheus metrics for ferry's processes: counters, gauges and histograms with fixed label
// names, rendered in the text exposition format 0.0.4 (HELP and TYPE lines, escaped label
// values, a histogram's cumulative _bucket{le=...} series up to +Inf, _sum and _count).
//
// Thread-safe: series are found under their family's mutex and updated with atomics (a
// histogram series under a mutex of its own, so a scrape never sees its count disagree with its
// buckets). A series, once made, lives as long as its family: callers may keep references.
//
// Cardinality is bounded by construction: label names are fixed when a family is made, and
// label values must come from fixed sets (route patterns, never raw paths; a method from
// MethodLabel's list; a status code). As a second guard, a family holds at most
// kMaxSeriesPerFamily series (a per-host family kMaxSeriesPerHostFamily); values beyond it land
// in one series whose every label is "overflow" (Replace drops them), so a bug can never grow a
// process's memory or a scrape without bound.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace ferry::metrics {

// 2,000 series per family: the largest legitimate family (API latency: ~70 route patterns x
// a handful of methods and status codes) stays well below it.
inline constexpr size_t kMaxSeriesPerFamily = 2000;
// 20,000 series for a family with one series per host (ferry_host_up, ..._heartbeat_age_seconds):
// its label values come from the hosts table, which bounds it, and a cluster may well have more
// than 2,000 hosts; 20,000 is ten times the largest ferry is measured at, still a few MB.
inline constexpr size_t kMaxSeriesPerHostFamily = 20000;
inline constexpr const char* kOverflowLabel = "overflow";

using Labels = std::vector<std::string>;  // values, in the family's label-name order

class Counter {
 public:
  void Inc(double by = 1.0) { value_.fetch_add(by, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Inc(double by = 1.0) { value_.fetch_add(by, std::memory_order_relaxed); }
  void Dec(double by = 1.0) { value_.fetch_sub(by, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double v);
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double>* bounds_;  // the family's, ascending
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative), the last one +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

enum class Type { kCounter, kGauge, kHistogram };

// One metric name with its fixed label names; T is Counter, Gauge or Histogram.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names, Type type,
             size_t max_series = kMaxSeriesPerFamily)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        type_(type),
        max_series_(max_series) {}
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  // Appends this family in the text format.
  virtual void Render(std::string& out) const = 0;

 protected:
  // "{a=\"x\",b=\"y\"}" (with `extra` appended inside the braces), or "" without labels.
  std::string LabelText(const Labels& values, std::string_view extra = {}) const;
  void RenderHeader(std::string& out) const;
  Labels Checked(Labels values) const;  // throws std::invalid_argument on a wrong count

  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const Type type_;
  const size_t max_series_;
};

template <typename T>
class Family : public FamilyBase {
 public:
  using FamilyBase::FamilyBase;
  // The series for these label values (as many as label names), made on first use.
  T& With(Labels values);
  T& With(std::initializer_list<std::string_view> values) {
    return With(Labels(values.begin(), values.end()));
  }
  // The one series of a family without labels.
  T& Get() { return With(Labels{}); }
  // Gauges read from elsewhere (a database): the series become exactly these, atomically.
  void Replace(const std::vector<std::pair<Labels, double>>& values);
  void Render(std::string& out) const override;

 protected:
  virtual std::unique_ptr<T> Make() const {
    if constexpr (std::is_default_constructible_v<T>) {
      return std::make_unique<T>();
    } else {
      return nullptr;  // HistogramFamily makes its own
    }
  }
  mutable std::mutex mu_;
  std::map<Labels, std::unique_ptr<T>> series_;
};

class HistogramFamily : public Family<Histogram> {
 public:
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds);
  void Render(std::string& out) const override;

 private:
  std::unique_ptr<Histogram> Make() const override { return std::make_unique<Histogram>(&bounds_); }
  const std::vector<double> bounds_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;

class Registry {
 public:
  // Names must be unique within a registry (std::invalid_argument otherwise) and match
  // [a-zA-Z_:][a-zA-Z0-9_:]*; label names [a-zA-Z_][a-zA-Z0-9_]* and not "le".
  CounterFamily& AddCounter(std::string name, std::string help,
                            std::vector<std::string> labels = {});
  // max_series: the family's cap (kMaxSeriesPerFamily, or kMaxSeriesPerHostFamily for a family
  // with one series per host).
  GaugeFamily& AddGauge(std::string name, std::string help, std::vector<std::string> labels = {},
                        size_t max_series = kMaxSeriesPerFamily);
  HistogramFamily& AddHistogram(std::string name, std::string help, std::vector<std::string> labels,
                                std::vector<double> bounds);
  // Every family in the order added.
  std::string Render() const;

 private:
  void Check(const std::string& name, const std::vector<std::string>& labels) const;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
};

// The process's registry: what /metrics renders.
Registry& DefaultRegistry();

// Text format helpers (exposed for tests).
std::string EscapeLabelValue(std::string_view v);  // \\, \" and \n
std::string EscapeHelp(std::string_view v);        // \\ and \n
std::string FormatValue(double v);                 // shortest round trip; +Inf, -Inf, NaN

// Bounded label values.
// "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"; anything else "other".
std::string_view MethodLabel(std::string_view method);

// Bucket bounds.
// Request and call latencies: 1 ms to 30 s.
std::vector<double> LatencyBuckets();
// Move durations: 1 s to 24 h.
std::vector<double> DurationBuckets();
// A guest's downtime in seconds: 10 ms to 30 s.
std::vector<double> DowntimeBuckets();

// Observes the seconds from construction to destruction (steady clock).
class ScopedTimer {
 public:
  explicit ScopedTimer(Histogram& h) : h_(&h), start_(std::chrono::steady_clock::now()) {}
  ~ScopedTimer() {
    if (h_) h_->Observe(Seconds());
  }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  void Cancel() { h_ = nullptr; }

 private:
  Histogram* h_;
  std::chrono::steady_clock::time_point start_;
};

// The content type of the text format.
inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace ferry::metrics
