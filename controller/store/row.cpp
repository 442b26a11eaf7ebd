#include "controller/store/row.hpp"

#include "common/errors.hpp"

namespace ferry::controller::store {

std::optional<std::string> OptString(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

std::optional<int64_t> OptInt(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<int64_t>();
}

TimePoint ToTime(const pqxx::field& f) {
  auto micros = static_cast<int64_t>(f.as<double>() * 1e6 + (f.as<double>() >= 0 ? 0.5 : -0.5));
  return TimePoint(
      std::chrono::duration_cast<TimePoint::duration>(std::chrono::microseconds(micros)));
}

std::optional<TimePoint> OptTime(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return ToTime(f);
}

nlohmann::json ToJson(const pqxx::field& f) {
  if (f.is_null()) return nullptr;
  return nlohmann::json::parse(f.c_str());
}

double EpochSeconds(TimePoint t) {
  return static_cast<double>(
             std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count()) /
         1e6;
}

std::string PgTextArray(const std::vector<std::string>& v) {
  std::string out = "{";
  for (const auto& s : v) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::optional<std::string> PgTextArray(const std::optional<std::vector<std::string>>& v) {
  if (!v) return std::nullopt;
  return PgTextArray(*v);
}

std::optional<double> OptEpoch(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return EpochSeconds(*t);
}

void ThrowUnknown(const char* column, const std::string& value) {
  throw Error(Errc::kInternal, std::string("unknown ") + column + " " + value);
}

MigrationStatus StatusFrom(const pqxx::field& f) {
  auto s = ParseMigrationStatus(f.as<std::string>());
  if (!s) throw Error(Errc::kInternal, "unknown migration status " + f.as<std::string>());
  return *s;
}

}  // namespace ferry::controller::store
