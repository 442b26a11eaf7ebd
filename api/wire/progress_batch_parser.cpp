#include "api/wire/progress_batch_parser.hpp"

#include <nlohmann/json.hpp>

#include "common/errors.hpp"

namespace ferry::wire {
namespace {

using json = nlohmann::json;

[[noreturn]] void Refuse(const std::string& what) {
  throw Error(Errc::kBadRequest, "Invalid request body: " + what);
}

// Depth 1: the batch object; 2: the reports array; 3: one report. Anything deeper (or any
// array or object where a scalar belongs) is skipped as an unknown value would be.
class BatchSax : public nlohmann::json_sax<json> {
 public:
  explicit BatchSax(MigrationProgressBatch& out) : out_(out) {}

  bool null() override { return Scalar(nullptr); }
  bool boolean(bool) override { return Scalar(nullptr); }
  bool number_integer(number_integer_t v) override { return Number(static_cast<double>(v), v); }
  bool number_unsigned(number_unsigned_t v) override {
    return Number(static_cast<double>(v), static_cast<int64_t>(v));
  }
  bool number_float(number_float_t v, const string_t&) override {
    // An integer field takes the integral part, as from_json does (api/wire/json_numbers.hpp);
    // outside int64 (1e300) the conversion is undefined, so such a value is refused there.
    const bool fits = v >= -9223372036854775808.0 && v < 9223372036854775808.0;
    return Number(v, fits ? static_cast<int64_t>(v) : 0, fits);
  }
  bool string(string_t& v) override {
    if (skip_ > 0) return true;
    if (depth_ == 0 || depth_ == 2) return Scalar(nullptr);
    if (depth_ == 1 && key_ == "host") {
      out_.host = std::move(v);
      saw_host_ = true;
      return true;
    }
    if (depth_ == 1) return Scalar(nullptr);
    auto& r = out_.reports.back();
    if (key_ == "migration_uuid") {
      r.migration_uuid = std::move(v);
      seen_ |= kUuid;
    } else if (key_ == "state") {
      r.state = std::move(v);
      seen_ |= kState;
    } else if (key_ == "domain_uuid") {
      r.domain_uuid = std::move(v);
    } else if (key_ == "phase") {
      r.phase = std::move(v);
    } else if (key_ == "error") {
      r.error = std::move(v);
    } else if (IsNumberKey(key_)) {
      Refuse("'" + key_ + "' must be a number");
    }
    return true;
  }
  bool binary(binary_t&) override { return true; }

  bool start_object(std::size_t) override {
    if (skip_ > 0 || (depth_ == 1 && key_ != "reports") || depth_ == 3 || depth_ > 3)
      return ++skip_, true;
    if (depth_ == 2) {
      out_.reports.emplace_back();
      seen_ = 0;
    } else if (depth_ == 1) {
      Refuse("'reports' must be an array");
    }
    ++depth_;
    return true;
  }
  bool end_object() override {
    if (skip_ > 0) return --skip_, true;
    if (depth_ == 3 && (seen_ & kUuid) == 0) Refuse("a report lacks 'migration_uuid'");
    if (depth_ == 3 && (seen_ & kState) == 0) Refuse("a report lacks 'state'");
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ == 0) Refuse("the body must be an object");
    if (depth_ == 2 && skip_ == 0) Refuse("each report must be an object");
    if (skip_ > 0 || depth_ != 1 || key_ != "reports") return ++skip_, true;
    saw_reports_ = true;
    ++depth_;
    return true;
  }
  bool end_array() override {
    if (skip_ > 0) return --skip_, true;
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (skip_ == 0) key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    throw Error(Errc::kBadRequest, "Malformed request body");
  }

  void Finish() const {
    if (!saw_host_) Refuse("'host' is required");
    if (!saw_reports_) Refuse("'reports' is required");
  }

 private:
  static constexpr int kUuid = 1, kState = 2;

  static bool IsNumberKey(const std::string& k) {
    return k == "iteration" || k == "memory_total" || k == "memory_processed" ||
           k == "memory_remaining" || k == "disk_total" || k == "disk_processed" ||
           k == "disk_remaining" || k == "transfer_rate_bps" || k == "dirty_rate_bps" ||
           k == "downtime_ms" || k == "throttle_percent" || k == "sampled_at";
  }

  bool Scalar(std::nullptr_t) {
    if (skip_ > 0) return true;
    if (depth_ == 0) Refuse("the body must be an object");
    if (depth_ == 2) Refuse("each report must be an object");
    if (depth_ == 1 && key_ == "host") Refuse("'host' must be a string");
    if (depth_ == 1 && key_ == "reports") Refuse("'reports' must be an array");
    if (depth_ == 3 && (key_ == "migration_uuid" || key_ == "state"))
      Refuse("'" + key_ + "' must be a string");
    if (depth_ == 3 && IsNumberKey(key_)) Refuse("'" + key_ + "' must be a number");
    return true;
  }

  bool Number(double d, int64_t i, bool fits_int64 = true) {
    if (skip_ > 0) return true;
    if (depth_ != 3) return Scalar(nullptr);
    if (!fits_int64 && IsNumberKey(key_) && key_ != "sampled_at") {
      Refuse("'" + key_ + "' is out of range");
    }
    auto& r = out_.reports.back();
    if (key_ == "sampled_at")
      r.sampled_at = d;
    else if (key_ == "iteration")
      r.iteration = static_cast<int>(i);
    else if (key_ == "throttle_percent")
      r.throttle_percent = static_cast<int>(i);
    else if (key_ == "memory_total")
      r.memory_total = i;
    else if (key_ == "memory_processed")
      r.memory_processed = i;
    else if (key_ == "memory_remaining")
      r.memory_remaining = i;
    else if (key_ == "disk_total")
      r.disk_total = i;
    else if (key_ == "disk_processed")
      r.disk_processed = i;
    else if (key_ == "disk_remaining")
      r.disk_remaining = i;
    else if (key_ == "transfer_rate_bps")
      r.transfer_rate_bps = i;
    else if (key_ == "dirty_rate_bps")
      r.dirty_rate_bps = i;
    else if (key_ == "downtime_ms")
      r.downtime_ms = i;
    else if (key_ == "migration_uuid" || key_ == "state" || key_ == "domain_uuid" ||
             key_ == "phase" || key_ == "error") {
      Refuse("'" + key_ + "' must be a string");
    }
    return true;
  }

  MigrationProgressBatch& out_;
  std::string key_;
  int depth_ = 0;
  int skip_ = 0;  // nesting inside a value that is skipped
  int seen_ = 0;
  bool saw_host_ = false;
  bool saw_reports_ = false;
};

}  // namespace

MigrationProgressBatch ParseMigrationProgressBatch(std::string_view json_text) {
  MigrationProgressBatch out;
  BatchSax sax(out);
  json::sax_parse(json_text.begin(), json_text.end(), &sax);
  sax.Finish();
  return out;
}

}  // namespace ferry::wire
