#include "common/metrics/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ferry::metrics {
namespace {

bool ValidName(std::string_view s, bool colon) {
  if (s.empty()) return false;
  auto first_ok = [&](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (colon && c == ':');
  };
  if (!first_ok(s[0])) return false;
  return std::all_of(s.begin() + 1, s.end(), [&](char c) {
    return first_ok(c) || std::isdigit(static_cast<unsigned char>(c));
  });
}

const char* TypeName(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

std::string_view MethodLabel(std::string_view method) {
  for (std::string_view m : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (method == m) return m;
  }
  return "other";
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

std::vector<double> DurationBuckets() {
  return {1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400};
}

std::vector<double> DowntimeBuckets() {
  return {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), counts_(bounds->size() + 1, 0) {}

void Histogram::Observe(double v) {
  // The first bucket whose upper bound is >= v ("le"); past every bound: +Inf.
  const size_t i =
      static_cast<size_t>(std::lower_bound(bounds_->begin(), bounds_->end(), v) - bounds_->begin());
  std::lock_guard lock(mu_);
  ++counts_[i];
  sum_ += v;
  ++count_;
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  std::lock_guard lock(mu_);
  uint64_t running = 0;
  for (uint64_t c : counts_) {
    running += c;
    s.cumulative.push_back(running);
  }
  s.sum = sum_;
  s.count = count_;
  return s;
}

std::string FamilyBase::LabelText(const Labels& values, std::string_view extra) const {
  if (values.empty() && extra.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += label_names_[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra.empty()) {
    if (!values.empty()) out += ',';
    out += extra;
  }
  out += '}';
  return out;
}

void FamilyBase::RenderHeader(std::string& out) const {
  out += "# HELP " + name_ + " " + EscapeHelp(help_) + "\n";
  out += "# TYPE " + name_ + " " + TypeName(type_) + "\n";
}

Labels FamilyBase::Checked(Labels values) const {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument(fmt::format("metric {}: {} label values for {} label names", name_,
                                            values.size(), label_names_.size()));
  }
  return values;
}

template <typename T>
T& Family<T>::With(Labels values) {
  values = Checked(std::move(values));
  std::lock_guard lock(mu_);
  auto it = series_.find(values);
  if (it != series_.end()) return *it->second;
  if (series_.size() >= max_series_) {
    values.assign(label_names_.size(), kOverflowLabel);
    auto& overflow = series_[values];
    if (!overflow) overflow = Make();
    return *overflow;
  }
  auto& made = series_[std::move(values)];
  made = Make();
  return *made;
}

template <typename T>
void Family<T>::Replace(const std::vector<std::pair<Labels, double>>& values) {
  std::map<Labels, std::unique_ptr<T>> fresh;
  for (const auto& [labels, value] : values) {
    if (fresh.size() >= max_series_) break;
    auto& s = fresh[Checked(labels)];
    if (!s) s = Make();
    if constexpr (std::is_same_v<T, Gauge>) {
      s->Set(value);
    } else if constexpr (std::is_same_v<T, Counter>) {
      s->Inc(value);
    }
  }
  std::lock_guard lock(mu_);
  series_.swap(fresh);
  // The old series die here: Replace is for families nobody keeps references into.
}

template <typename T>
void Family<T>::Render(std::string& out) const {
  RenderHeader(out);
  std::lock_guard lock(mu_);
  for (const auto& [labels, s] : series_) {
    if constexpr (!std::is_same_v<T, Histogram>) {
      out += name_ + LabelText(labels) + " " + FormatValue(s->Value()) + "\n";
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names, std::vector<double> bounds)
    : Family<Histogram>(std::move(name), std::move(help), std::move(label_names), Type::kHistogram),
      bounds_(std::move(bounds)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end() ||
      std::any_of(bounds_.begin(), bounds_.end(), [](double b) { return !std::isfinite(b); })) {
    throw std::invalid_argument("histogram " + name_ + ": bounds must be finite and ascending");
  }
}

void HistogramFamily::Render(std::string& out) const {
  RenderHeader(out);
  std::lock_guard lock(mu_);
  for (const auto& [labels, h] : series_) {
    const auto snap = h->Read();
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      const std::string le =
          "le=\"" + (i < bounds_.size() ? FormatValue(bounds_[i]) : std::string("+Inf")) + "\"";
      out += name_ + "_bucket" + LabelText(labels, le) + " " +
             FormatValue(static_cast<double>(snap.cumulative[i])) + "\n";
    }
    out += name_ + "_sum" + LabelText(labels) + " " + FormatValue(snap.sum) + "\n";
    out += name_ + "_count" + LabelText(labels) + " " +
           FormatValue(static_cast<double>(snap.count)) + "\n";
  }
}

void Registry::Check(const std::string& name, const std::vector<std::string>& labels) const {
  if (!ValidName(name, true)) throw std::invalid_argument("invalid metric name '" + name + "'");
  for (const auto& l : labels) {
    if (!ValidName(l, false) || l == "le" || l.rfind("__", 0) == 0) {
      throw std::invalid_argument("metric " + name + ": invalid label name '" + l + "'");
    }
  }
  for (const auto& f : families_) {
    if (f->name() == name) throw std::invalid_argument("metric " + name + " registered twice");
  }
}

CounterFamily& Registry::AddCounter(std::string name, std::string help,
                                    std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  Check(name, labels);
  const bool plain = labels.empty();
  auto f = std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(labels),
                                           Type::kCounter);
  if (plain) f->Get();  // a family without labels shows 0 from the start
  auto& ref = *f;
  families_.push_back(std::move(f));
  return ref;
}

GaugeFamily& Registry::AddGauge(std::string name, std::string help, std::vector<std::string> labels,
                                size_t max_series) {
  std::lock_guard lock(mu_);
  Check(name, labels);
  const bool plain = labels.empty();
  auto f = std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(labels),
                                         Type::kGauge, max_series);
  if (plain) f->Get();
  auto& ref = *f;
  families_.push_back(std::move(f));
  return ref;
}

HistogramFamily& Registry::AddHistogram(std::string name, std::string help,
                                        std::vector<std::string> labels,
                                        std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  Check(name, labels);
  const bool plain = labels.empty();
  auto f = std::make_unique<HistogramFamily>(std::move(name), std::move(help), std::move(labels),
                                             std::move(bounds));
  if (plain) f->Get();
  auto& ref = *f;
  families_.push_back(std::move(f));
  return ref;
}

std::string Registry::Render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& f : families_) f->Render(out);
  return out;
}

Registry& DefaultRegistry() {
  static Registry* registry = new Registry();  // never destroyed: used from static destructors
  return *registry;
}

}  // namespace ferry::metrics
